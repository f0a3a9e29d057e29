"""What Argo CD needs in the cluster before its controllers start: its namespace, its CRDs and its
configuration, all as the pinned Argo CD version ships them (tools/argocd/build.sh copies them into
bin/argocd-crds and bin/argocd-config), unless the Argo CD chart is installed (`meridian up dev`):
then the chart's CRDs and configuration stay as they are, and only Meridian's settings are added.
What the loop installs itself carries the chart release's ownership marks, so a later `meridian up
dev` installs the chart over it (Helm adopts objects marked with its release) instead of stopping.

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

from meridian_core.errors import InputError, RefusedError
from meridian_core.yamlio import dump_all, load_all
from meridian_infra.argocd import kustomize_build_options
from meridian_infra.charts import CHARTS

from meridian.cluster.api import ApiError, KubeApi
from meridian.cluster.dryrun import _wait_established as wait_established
from meridian.cluster.gitops_components import NAMESPACE

FIELD_MANAGER = "meridian-gitops"
CRDS_DIR = "argocd-crds"
CONFIG_DIR = "argocd-config"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
SIGNING_FIELD = "server.secretkey"  # argocd-secret's key for signing (webhooks, sessions)
# Groups the apps' manifests use whose CRDs come with a chart the local cluster may lack.
CHART_ONLY_GROUPS = ("monitoring.coreos.com",)
# The platform program's release of the Argo CD chart (meridian_infra.helm names a release by its key).
RELEASE = CHARTS["argo-cd"].name
# Helm installs over an existing object only if it carries these marks of the release.
HELM_OWNERSHIP = {
    "labels": {"app.kubernetes.io/managed-by": "Helm"},
    "annotations": {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": NAMESPACE},
}
# Helm 3 keeps each release's record in a Secret labelled with its name and status.
HELM_RECORDS = f"/api/v1/namespaces/{NAMESPACE}/secrets"
CM_PATH = f"/api/v1/namespaces/{NAMESPACE}/configmaps/argocd-cm"
SECRET_PATH = f"/api/v1/namespaces/{NAMESPACE}/secrets/argocd-secret"


def install(api: KubeApi, bin_dir: Path) -> str:
    """Install what the controllers need; says where the CRDs and configuration came from."""
    ensure_namespace(api, NAMESPACE)
    if chart_installed(api):
        _add_settings_to_chart(api, api.get(CM_PATH))
        return f"the chart's (Helm release {RELEASE}), Meridian's settings added"
    crds = [_owned_by_release(crd) for crd in _documents(bin_dir / CRDS_DIR)]
    for crd in crds:
        _apply(api, f"{CRD_PATH}/{crd['metadata']['name']}", crd)
    for crd in crds:
        wait_established(api, crd["metadata"]["name"])
    excluded = [g for g in CHART_ONLY_GROUPS if not _served_group(api, g)]
    for obj in map(_owned_by_release, _documents(bin_dir / CONFIG_DIR)):
        obj["metadata"]["namespace"] = NAMESPACE
        if obj["metadata"]["name"] == "argocd-cm":
            configure(obj, excluded)
        if obj["metadata"]["name"] == "argocd-secret":
            _keep_or_make_secret_key(api, obj)
        plural = "secrets" if obj["kind"] == "Secret" else "configmaps"
        _apply(api, f"/api/v1/namespaces/{NAMESPACE}/{plural}/{obj['metadata']['name']}", obj)
    return "installed as the pinned Argo CD ships them"


def chart_installed(api: KubeApi) -> bool:
    """Whether Helm holds a deployed release of the Argo CD chart (`meridian up dev` installs it)."""
    selector = f"owner=helm,name={RELEASE},status=deployed"
    return bool(api.get(HELM_RECORDS, params={"labelSelector": selector}).get("items"))


def _owned_by_release(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj["metadata"]
    for field, marks in HELM_OWNERSHIP.items():
        metadata[field] = {**(metadata.get(field) or {}), **marks}
    return obj


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
    data["kustomize.buildOptions"] = kustomize_build_options()
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
    failure = f"installing {obj['kind']} {obj['metadata']['name']} failed"
    api.apply_or_refuse(path, obj, manager=FIELD_MANAGER, failure=failure)


def _served_group(api: KubeApi, group: str) -> bool:
    return any(g["name"] == group for g in api.get("/apis").get("groups", []))
