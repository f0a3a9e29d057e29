"""Crashes, clashes and shutdown, each on a cluster of its own (not the session's)."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.local_cluster import ClusterUnderTest, new_cluster, output, wait_for

from meridian.cluster.components import NAMES
from meridian.cluster.procs import is_alive

pytestmark = pytest.mark.slow


@pytest.fixture
def own_cluster(tmp_path: Path, control_plane_built: None) -> Iterator[ClusterUnderTest]:
    cluster = new_cluster(tmp_path / "cluster")
    yield cluster
    # Whatever a test left behind, the machine gets its processes and ports back.
    cluster.run("cluster", "down", "--local")


def test_a_component_that_crashes_while_starting_is_reported_and_nothing_is_left(
    own_cluster: ClusterUnderTest,
):
    result = own_cluster.run(
        "cluster", "up", "--local", MERIDIAN_CLUSTER_ARGS_KUBE_CONTROLLER_MANAGER="--no-such-flag"
    )
    assert result.returncode == 1, output(result)
    assert "kube-controller-manager exited (code 1)" in result.stderr
    assert str(own_cluster.dirs.log("kube-controller-manager")) in result.stderr
    assert "unknown flag: --no-such-flag" in result.stderr  # the tail of its log
    assert "Traceback" not in result.stderr
    # etcd and the API server had started: they were stopped again.
    assert own_cluster.processes() == {}
    assert own_cluster.busy_ports() == []
    assert own_cluster.pids() == {}


def test_a_taken_port_is_named_with_its_holder(own_cluster: ClusterUnderTest):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", own_cluster.ports.apiserver))
        squatter.listen()
        result = own_cluster.run("cluster", "up", "--local")
    assert result.returncode == 3, output(result)
    assert f"port {own_cluster.ports.apiserver} (apiserver) is in use by pid {os.getpid()}" in result.stderr
    assert "MERIDIAN_CLUSTER_PORT_BASE" in result.stderr
    assert own_cluster.processes() == {}


def test_after_a_crash_up_restarts_and_down_leaves_nothing(own_cluster: ClusterUnderTest):
    first = own_cluster.run("cluster", "up", "--local")
    assert first.returncode == 0, output(first)
    started = own_cluster.pids()
    assert set(started) == set(NAMES)

    # A crash: the API server dies without cleaning up; its pid file stays behind.
    os.kill(started["kube-apiserver"], signal.SIGKILL)
    wait_for(lambda: not is_alive(started["kube-apiserver"]), "the killed API server gone", 30)
    status = own_cluster.run("cluster", "status", "--local")
    assert status.returncode == 1, output(status)
    assert "not healthy: kube-apiserver" in status.stderr

    again = own_cluster.run("cluster", "up", "--local")
    assert again.returncode == 0, output(again)
    assert "restarting" in again.stderr
    restarted = own_cluster.pids()
    assert set(restarted) == set(NAMES)
    assert not any(is_alive(pid) for pid in started.values())  # the survivors were stopped too

    down = own_cluster.run("cluster", "down", "--local")
    assert down.returncode == 0, output(down)
    assert f"stopped: {', '.join(reversed(NAMES))}" in down.stdout
    assert not any(is_alive(pid) for pid in restarted.values())
    assert own_cluster.processes() == {}
    assert own_cluster.busy_ports() == []
    assert own_cluster.pids() == {}
    assert own_cluster.dirs.etcd_data.is_dir()  # kept without --purge: the next up resumes

    repeat = own_cluster.run("cluster", "down", "--local")
    assert repeat.returncode == 0, output(repeat)
    assert "not running: nothing to stop" in repeat.stdout

    purge = own_cluster.run("cluster", "down", "--local", "--purge")
    assert purge.returncode == 0, output(purge)
    assert not own_cluster.dirs.etcd_data.exists()
    assert not own_cluster.dirs.pki.exists()
    assert not own_cluster.dirs.kubeconfig.exists()
