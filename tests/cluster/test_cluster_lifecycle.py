"""`meridian cluster up|status --local` on the session's running control plane."""

from __future__ import annotations

import json
import subprocess

import pytest
from support.local_cluster import REPO_ROOT, ClusterUnderTest, meridian, output

from meridian.cluster.components import NAMES

pytestmark = pytest.mark.slow


def test_up_again_says_so_and_restarts_nothing(local_cluster: ClusterUnderTest):
    before = local_cluster.pids()
    result = local_cluster.run("cluster", "up", "--local")
    assert result.returncode == 0, output(result)
    assert "already running" in result.stdout
    assert local_cluster.pids() == before
    assert set(before) == set(NAMES)


def test_status_shows_every_component_healthy(local_cluster: ClusterUnderTest):
    result = local_cluster.run("cluster", "status", "--local")
    assert result.returncode == 0, output(result)
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.split()}
    for name, pid in local_cluster.pids().items():
        assert str(pid) in rows[name]
        assert str(local_cluster.dirs.log(name)) in rows[name]
    assert str(local_cluster.ports.apiserver) in rows["kube-apiserver"]
    assert "1/1 nodes Ready" in rows["kwok"]
    assert f"kubeconfig: {local_cluster.dirs.kubeconfig}" in result.stdout


def test_the_kubeconfig_works_with_the_matching_kubectl(local_cluster: ClusterUnderTest):
    kubectl = REPO_ROOT / "bin" / "kubectl"
    result = subprocess.run(
        [str(kubectl), "--kubeconfig", str(local_cluster.dirs.kubeconfig), "version", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    versions = json.loads(result.stdout)
    assert versions["clientVersion"]["gitVersion"] == versions["serverVersion"]["gitVersion"]
    assert versions["serverVersion"]["gitVersion"].startswith("v1.")


def test_the_dev_spec_sizes_the_nodes_and_the_service_range(local_cluster: ClusterUnderTest):
    with local_cluster.api() as api:
        nodes = api.get("/api/v1/nodes")["items"]
        service = api.get("/api/v1/namespaces/default/services/kubernetes")
    assert [n["metadata"]["name"] for n in nodes] == ["kwok-node-0"]  # dev: workers: 1
    assert nodes[0]["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert nodes[0]["status"]["allocatable"]["cpu"] == "8"
    assert service["spec"]["clusterIP"] == "10.96.0.1"  # first address of dev's serviceSubnet


@pytest.mark.parametrize("command", ["up", "down", "status"])
def test_without_local_is_a_usage_error(command: str, tmp_path):
    result = meridian("cluster", command, env={"MERIDIAN_CLUSTER_DIR": str(tmp_path)})
    assert result.returncode == 2, output(result)
    assert "pass --local" in result.stderr
    assert "kind clusters are created by the Pulumi program" in result.stderr
    assert not list(tmp_path.iterdir())  # refused before touching anything
