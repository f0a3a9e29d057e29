"""Real local clusters for tests: each in a temporary state folder, on ports nothing else uses,
driven through the `meridian` command exactly as a developer drives it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from meridian.cluster.api import KubeApi
from meridian.cluster.components import NAMES, PYTHON_MODULES, server_url
from meridian.cluster.layout import ADMISSION_OFFSET, ClusterDir, Ports
from meridian.cluster.ports import free_base, is_free
from meridian.cluster.procs import find_ours, read_pid

REPO_ROOT = Path(__file__).resolve().parents[2]
# Waits for the cluster to react (a Deployment to roll out); generous for a loaded 2-core machine.
REACT_TIMEOUT_S = 180.0


def free_port_base() -> int:
    """A base whose control-plane ports are all free, away from the defaults and the ephemeral range."""
    return free_base(lambda base: Ports.from_base(base).by_use().values(), step=ADMISSION_OFFSET + 1)


def meridian(
    *args: str, env: dict[str, str], cwd: Path = REPO_ROOT, timeout: float = 1200
) -> subprocess.CompletedProcess[str]:
    # Settings from the developer's shell must not steer the cluster under test.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MERIDIAN_CLUSTER_", "MERIDIAN_ROOT"))}
    return subprocess.run(
        [sys.executable, "-m", "meridian.cli", *args],
        cwd=cwd,
        env={**base, "COLUMNS": "250", "NO_COLOR": "1", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class ClusterUnderTest:
    root: Path
    port_base: int
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            "MERIDIAN_CLUSTER_DIR": str(self.root),
            "MERIDIAN_CLUSTER_PORT_BASE": str(self.port_base),
            **self.extra_env,
        }

    @property
    def dirs(self) -> ClusterDir:
        return ClusterDir(self.root)

    @property
    def ports(self) -> Ports:
        return Ports.from_base(self.port_base)

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return meridian(*args, env={**self.env, **env})

    def api(self) -> KubeApi:
        return KubeApi(server_url(self.ports), self.dirs.pki)

    def pids(self) -> dict[str, int]:
        found = {name: read_pid(self.dirs.pid_file(name)) for name in NAMES}
        return {name: pid for name, pid in found.items() if pid is not None}

    def processes(self) -> dict[int, str]:
        """Every process of this cluster, found by its command line (not by the pid files)."""
        return find_ours(NAMES, os.path.join(self.root, ""), modules=PYTHON_MODULES)

    def busy_ports(self) -> list[int]:
        return [port for port in self.ports.by_use().values() if not is_free(port)]

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def new_cluster(root: Path, **extra_env: str) -> ClusterUnderTest:
    return ClusterUnderTest(root, free_port_base(), dict(extra_env))


def running_cluster(root: Path) -> Iterator[ClusterUnderTest]:
    """A local control plane in `root`, up for as long as the generator lives, purged after."""
    cluster = new_cluster(root)
    result = cluster.run("cluster", "up", "--local")
    if result.returncode != 0:
        cluster.run("cluster", "down", "--local")
        pytest.fail(f"`meridian cluster up --local` failed:\n{output(result)}")
    yield cluster
    cluster.run("cluster", "down", "--local", "--purge")


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = REACT_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout_s:.0f}s")
        time.sleep(0.5)
