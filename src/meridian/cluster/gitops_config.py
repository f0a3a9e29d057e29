"""What Argo CD needs in the cluster before its controllers start: its namespace, its CRDs and its
configuration, all as the pinned Argo CD version ships them (tools/argocd/build.sh copies them into
bin/argocd-crds and bin/argocd-config), unless the Argo CD chart is installed (`meridian up dev`):
then the chart's CRDs and configuration stay as they are, and only Meridian's settings are added.

Two settings of argocd-cm are Meridian's: `kustomize.buildOptions` is the one constant `meridian
render` builds with, and API groups the local cluster does not serve (the Prometheus operator's, whose
chart cannot be installed here) are excluded, so their objects are reported as excluded instead of
failing every sync.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

from meridian.cluster.api import ApiError, KubeApi
from meridian.cluster.dryrun import _wait_established as wait_established
from meridian.cluster.gitops_components import NAMESPACE
from meridian.errors import InputError, RefusedError
from meridian.render.apps import KUSTOMIZE_BUILD_OPTIONS
from meridian.yamlio import dump_all, load_all

FIELD_MANAGER = "meridian-gitops"
CRDS_DIR = "argocd-crds"
CONFIG_DIR = "argocd-config"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
SIGNING_FIELD = "server.secretkey"  # argocd-secret's key for signing (webhooks, sessions)
# Groups the apps' manifests use whose CRDs come with a chart the local cluster may lack.
CHART_ONLY_GROUPS = ("monitoring.coreos.com",)
# What Helm marks the objects of a release with; Helm refuses to take over objects without it.
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"
CM_PATH = f"/api/v1/namespaces/{NAMESPACE}/configmaps/argocd-cm"
SECRET_PATH = f"/api/v1/namespaces/{NAMESPACE}/secrets/argocd-secret"


def build_options() -> str:
    """argocd-cm's `kustomize.buildOptions`: the render's options, space-separated as Argo CD reads them."""
    return " ".join(KUSTOMIZE_BUILD_OPTIONS)


def install(api: KubeApi, bin_dir: Path) -> str:
    """Install what the controllers need; says where the CRDs and configuration came from."""
    ensure_namespace(api, NAMESPACE)
    chart_cm = _chart_argocd_cm(api)
    if chart_cm is not None:
        _add_settings_to_chart(api, chart_cm)
        release = chart_cm["metadata"]["annotations"][HELM_RELEASE_ANNOTATION]
        return f"the chart's (Helm release {release}), Meridian's settings added"
    crds = _documents(bin_dir / CRDS_DIR)
    for crd in crds:
        _apply(api, f"{CRD_PATH}/{crd['metadata']['name']}", crd)
    for crd in crds:
        wait_established(api, crd["metadata"]["name"])
    excluded = [g for g in CHART_ONLY_GROUPS if not _served_group(api, g)]
    for obj in _documents(bin_dir / CONFIG_DIR):
        obj["metadata"]["namespace"] = NAMESPACE
        if obj["metadata"]["name"] == "argocd-cm":
            configure(obj, excluded)
        if obj["metadata"]["name"] == "argocd-secret":
            _keep_or_make_secret_key(api, obj)
        plural = "secrets" if obj["kind"] == "Secret" else "configmaps"
        _apply(api, f"/api/v1/namespaces/{NAMESPACE}/{plural}/{obj['metadata']['name']}", obj)
    return "installed as the pinned Argo CD ships them"


def _chart_argocd_cm(api: KubeApi) -> dict[str, Any] | None:
    """argocd-cm if a Helm release (the Argo CD chart) made it, else None."""
    try:
        cm = api.get(CM_PATH)
    except ApiError as exc:
        if exc.status != 404:
            raise
        return None
    return cm if HELM_RELEASE_ANNOTATION in (cm["metadata"].get("annotations") or {}) else None


def _add_settings_to_chart(api: KubeApi, chart_cm: dict[str, Any]) -> None:
    """Meridian's two argocd-cm settings and the signing key, applied as fields of their own: the
    chart's other fields stay the chart's, and a later `helm upgrade` leaves these in place."""
    excluded = [g for g in CHART_ONLY_GROUPS if not _served_group(api, g)]
    merged: dict[str, Any] = {"data": dict(chart_cm.get("data") or {})}
    configure(merged, excluded)  # appends to the chart's resource.exclusions, if it must
    ours = {"kustomize.buildOptions": merged["data"]["kustomize.buildOptions"]}
    if excluded:
        ours["resource.exclusions"] = merged["data"]["resource.exclusions"]
    _apply(api, CM_PATH, _partial("ConfigMap", "argocd-cm", {"data": ours}))
    secret = _partial("Secret", "argocd-secret", {})
    _keep_or_make_secret_key(api, secret)
    _apply(api, SECRET_PATH, secret)


def _partial(kind: str, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": NAMESPACE}, **fields}


def configure(argocd_cm: dict[str, Any], excluded_groups: list[str]) -> None:
    data = argocd_cm.setdefault("data", {}) or {}
    argocd_cm["data"] = data
    data["kustomize.buildOptions"] = build_options()
    if excluded_groups:
        # Argo CD's default exclusions stay; ours are appended.
        exclusions = load_all(data.get("resource.exclusions", "")) or [[]]
        rules = list(exclusions[0])
        rules.append({"apiGroups": excluded_groups, "kinds": ["*"], "clusters": ["*"]})
        data["resource.exclusions"] = dump_all([rules])


def _keep_or_make_secret_key(api: KubeApi, secret: dict[str, Any]) -> None:
    """argocd-server makes `server.secretkey` on its first start; without a server the loop makes it
    (the ApplicationSet controller's webhook handler needs it), once: a restart keeps the key."""
    try:
        current = api.get(SECRET_PATH).get("data") or {}
    except ApiError as exc:
        if exc.status != 404:
            raise
        current = {}
    key = current.get(SIGNING_FIELD) or base64.b64encode(secrets.token_bytes(32)).decode()
    secret.setdefault("data", {})
    secret["data"] = {**(secret["data"] or {}), SIGNING_FIELD: key}


def ensure_namespace(api: KubeApi, name: str) -> None:
    if not api.exists(f"/api/v1/namespaces/{name}"):
        api.create(
            "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )


def _documents(folder: Path) -> list[dict[str, Any]]:
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise RefusedError(
            f"{folder} holds no manifests", hint="run `make tools` (tools/argocd/build.sh copies them there)"
        )
    documents = []
    for path in files:
        for document in load_all(path.read_text()):
            if not isinstance(document, dict) or "metadata" not in document:
                raise InputError(f"{path}: a document that is not a Kubernetes object")
            documents.append(document)
    return documents


def _apply(api: KubeApi, path: str, obj: dict[str, Any]) -> None:
    try:
        api.apply(path, obj, manager=FIELD_MANAGER)
    except ApiError as exc:
        raise RefusedError(
            f"installing {obj['kind']} {obj['metadata']['name']} failed: {exc.message}"
        ) from None


def _served_group(api: KubeApi, group: str) -> bool:
    return any(g["name"] == group for g in api.get("/apis").get("groups", []))
