"""Where `meridian up dev` installed the Argo CD chart before the GitOps loop starts, the loop keeps
the chart's CRDs and configuration and adds only Meridian's settings, as fields of its own: the
objects stay Helm's (a later `helm upgrade` still owns them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.local_cluster import ClusterUnderTest

from meridian.cluster import gitops_config
from meridian.cluster.api import KubeApi
from meridian.cluster.gitops_components import NAMESPACE

pytestmark = pytest.mark.slow

HELM = {
    "labels": {"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/part-of": "argocd"},
    "annotations": {"meta.helm.sh/release-name": "argo-cd", "meta.helm.sh/release-namespace": NAMESPACE},
}
CHART_EXCLUSIONS = "- apiGroups: [cilium.io]\n  kinds: [CiliumIdentity]\n"


@pytest.fixture
def chart_objects(local_cluster: ClusterUnderTest) -> Iterator[KubeApi]:
    """argocd-cm and argocd-secret as the chart's Helm release leaves them."""
    with local_cluster.api() as api:
        gitops_config.ensure_namespace(api, NAMESPACE)
        for kind, plural, name, data in (
            (
                "ConfigMap",
                "configmaps",
                "argocd-cm",
                {"admin.enabled": "true", "resource.exclusions": CHART_EXCLUSIONS},
            ),
            ("Secret", "secrets", "argocd-secret", {"admin.password": "Y2hhcnQ="}),
        ):
            body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, **HELM}, "data": data}
            api.create(f"/api/v1/namespaces/{NAMESPACE}/{plural}", body)
        try:
            yield api
        finally:
            api.delete(gitops_config.CM_PATH)
            api.delete(gitops_config.SECRET_PATH)


def test_the_loop_adds_its_settings_to_the_charts_configuration_and_installs_nothing_else(
    chart_objects: KubeApi, tmp_path: Path
) -> None:
    api = chart_objects
    assert not any(g["name"] == "monitoring.coreos.com" for g in api.get("/apis")["groups"])
    # No CRDs or shipped configuration to read: the chart's path must not need them.
    source = gitops_config.install(api, tmp_path / "no-argocd-build")
    assert source == "the chart's (Helm release argo-cd), Meridian's settings added"

    cm = api.get(gitops_config.CM_PATH)
    assert cm["metadata"]["annotations"] == HELM["annotations"]
    assert cm["metadata"]["labels"] == HELM["labels"]
    assert cm["data"]["admin.enabled"] == "true"
    assert cm["data"]["kustomize.buildOptions"] == gitops_config.build_options()
    # The chart's exclusions stay; the group the cluster does not serve is appended.
    rules = yaml.safe_load(cm["data"]["resource.exclusions"])
    assert rules[0] == {"apiGroups": ["cilium.io"], "kinds": ["CiliumIdentity"]}
    assert rules[-1] == {"apiGroups": ["monitoring.coreos.com"], "kinds": ["*"], "clusters": ["*"]}
    managers = {m["manager"]: m for m in cm["metadata"]["managedFields"]}
    ours = str(managers[gitops_config.FIELD_MANAGER]["fieldsV1"])
    assert "kustomize.buildOptions" in ours and "admin.enabled" not in ours

    secret = api.get(gitops_config.SECRET_PATH)
    assert secret["data"]["admin.password"] == "Y2hhcnQ="
    key = secret["data"][gitops_config.SIGNING_FIELD]
    gitops_config.install(api, tmp_path / "no-argocd-build")
    assert api.get(gitops_config.SECRET_PATH)["data"][gitops_config.SIGNING_FIELD] == key, "key not kept"
