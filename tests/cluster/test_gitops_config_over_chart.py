"""The GitOps loop's Argo CD configuration and the Argo CD chart, in either order on one cluster.

What the loop installs itself (the pinned Argo CD's CRDs and configuration) carries the chart
release's ownership marks, so the platform program's Helm release of the chart installs over it
instead of stopping at "exists and cannot be imported into the current release"; Meridian's
settings survive the install. Once the chart is installed, the loop keeps the chart's CRDs and
configuration and adds only its settings, as fields of its own.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from meridian_core.layout import Repo
from meridian_infra.argocd import kustomize_build_options
from meridian_infra.charts import CHARTS
from support.chart_archives import pinned_charts_source
from support.local_cluster import REPO_ROOT, ClusterUnderTest

from meridian.cluster import gitops_config
from meridian.cluster.api import KubeApi
from meridian.cluster.gitops_components import NAMESPACE
from meridian.render.chart_sources import ChartSource, choose_repository, fetch
from meridian.toolchain import require_tool

pytestmark = pytest.mark.slow

BIN = REPO_ROOT / "bin"
PIN = CHARTS["argo-cd"]
CRDS = ("applications.argoproj.io", "applicationsets.argoproj.io", "appprojects.argoproj.io")


def _chart_archive(tmp_path: Path, helm: str) -> Path:
    pinned_charts_source()  # fails, naming the setting to give, where the charts cannot be had
    repository, setting = choose_repository(PIN.name, None, "the test run")
    source = ChartSource(PIN.name, PIN.chart, PIN.version, repository, setting)
    return fetch(source, tmp_path / "charts", helm)


@pytest.fixture
def cluster_api(local_cluster: ClusterUnderTest) -> Iterator[tuple[ClusterUnderTest, KubeApi]]:
    missing = [p for p in (BIN / gitops_config.CRDS_DIR, BIN / gitops_config.CONFIG_DIR) if not p.is_dir()]
    assert not missing, f"{', '.join(map(str, missing))} missing: `meridian tools install --group argocd`"
    with local_cluster.api() as api:
        try:
            yield local_cluster, api
        finally:
            # The chart keeps its CRDs on uninstall (helm.sh/resource-policy: keep).
            helm = require_tool(Repo(REPO_ROOT), "helm")
            subprocess.run(
                [
                    helm,
                    "uninstall",
                    PIN.name,
                    "-n",
                    NAMESPACE,
                    "--kubeconfig",
                    str(local_cluster.dirs.kubeconfig),
                ],
                capture_output=True,
                timeout=300,
                check=False,
            )
            for crd in CRDS:
                api.delete(f"{gitops_config.CRD_PATH}/{crd}")
            for path in (gitops_config.CM_PATH, gitops_config.SECRET_PATH):
                api.delete(path)


def test_the_chart_installs_over_the_loops_configuration_and_the_loop_then_keeps_the_charts(
    cluster_api: tuple[ClusterUnderTest, KubeApi], tmp_path: Path
) -> None:
    cluster, api = cluster_api
    assert gitops_config.install(api, BIN) == "installed as the pinned Argo CD ships them"
    assert not gitops_config.chart_installed(api)
    key = api.get(gitops_config.SECRET_PATH)["data"][gitops_config.SIGNING_FIELD]

    helm = require_tool(Repo(REPO_ROOT), "helm")
    installed = subprocess.run(
        [
            helm,
            "install",
            PIN.name,
            str(_chart_archive(tmp_path, helm)),
            "-n",
            NAMESPACE,
            "--kubeconfig",
            str(cluster.dirs.kubeconfig),
            "--timeout",
            "5m",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    assert gitops_config.chart_installed(api)

    cm = api.get(gitops_config.CM_PATH)
    assert cm["metadata"]["labels"]["helm.sh/chart"] == f"{PIN.chart}-{PIN.version}"
    # The install left what the chart does not set: Meridian's build options and the signing key.
    assert cm["data"]["kustomize.buildOptions"] == kustomize_build_options()
    assert api.get(gitops_config.SECRET_PATH)["data"][gitops_config.SIGNING_FIELD] == key
    crd = api.get(f"{gitops_config.CRD_PATH}/applications.argoproj.io")
    assert crd["metadata"]["annotations"]["meta.helm.sh/release-name"] == PIN.name

    # A restart of the loop now reads no shipped manifests: it adds its settings to the chart's.
    api.apply(
        gitops_config.CM_PATH,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": NAMESPACE}},
        manager=gitops_config.FIELD_MANAGER,
    )  # the loop's own fields dropped, as on a cluster where the chart came first
    assert "kustomize.buildOptions" not in (api.get(gitops_config.CM_PATH).get("data") or {})
    source = gitops_config.install(api, tmp_path / "no-argocd-build")
    assert source == f"the chart's (Helm release {PIN.name}), Meridian's settings added"
    cm = api.get(gitops_config.CM_PATH)
    assert cm["data"]["kustomize.buildOptions"] == kustomize_build_options()
    assert cm["metadata"]["labels"]["helm.sh/chart"] == f"{PIN.chart}-{PIN.version}"
    assert "resource.exclusions" in cm["data"]  # the chart's list, kept
    assert api.get(gitops_config.SECRET_PATH)["data"][gitops_config.SIGNING_FIELD] == key
