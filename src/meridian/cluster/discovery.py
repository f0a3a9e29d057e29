"""Which kinds the API server serves, and under which URL: what kubectl's REST mapper does,
for the few group/versions a render uses."""

from __future__ import annotations

from dataclasses import dataclass

from meridian.cluster.api import ApiError, KubeApi


@dataclass(frozen=True)
class Resource:
    plural: str
    namespaced: bool


class Discovery:
    """Learnt once per check: CRDs are installed before a check starts, never during one."""

    def __init__(self, api: KubeApi) -> None:
        self._api = api
        self._kinds: dict[str, dict[str, Resource] | None] = {}
        self._groups: set[str] | None = None

    def built_in(self, api_version: str) -> bool:
        """Whether the API server itself serves this group (core included), not a CRD."""
        group = group_of(api_version)
        if not group:
            return True
        if self._groups is None:
            served = {g["name"] for g in self._api.get("/apis").get("groups", [])}
            crds = self._api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
            self._groups = served - {c["spec"]["group"] for c in crds.get("items", [])}
        return group in self._groups

    def resource(self, api_version: str, kind: str) -> Resource | None:
        """The resource for this kind, or None when the API server does not serve it."""
        if api_version not in self._kinds:
            self._kinds[api_version] = self._load(api_version)
        kinds = self._kinds[api_version]
        return kinds.get(kind) if kinds is not None else None

    def _load(self, api_version: str) -> dict[str, Resource] | None:
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            listed = self._api.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return {
            r["kind"]: Resource(r["name"], bool(r.get("namespaced")))
            for r in listed.get("resources", [])
            if "/" not in r["name"]  # subresources (deployments/status) share their parent's kind
        }


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def object_path(api_version: str, resource: Resource, name: str, namespace: str | None) -> str:
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = f"/namespaces/{namespace}" if resource.namespaced and namespace else ""
    return f"{base}{scope}/{resource.plural}/{name}"
