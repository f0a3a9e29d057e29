"""One GitOps loop for the session: `meridian cluster up --local --gitops` in a temporary state
folder on free ports, exactly as a developer starts it, with a fast poll interval."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitops_loop import POLL_S, Loop, SocketWatch, WorkingClone, free_loop_base, git
from support.local_cluster import REPO_ROOT, ClusterUnderTest, output

from meridian.cluster.components import BINARIES as CONTROL_PLANE_BINARIES
from meridian.cluster.gitops_components import ARGOCD_PARTS, REDIS


@pytest.fixture(scope="session")
def loop_built() -> None:
    missing = [
        name for name in (*CONTROL_PLANE_BINARIES, *ARGOCD_PARTS) if not (REPO_ROOT / "bin" / name).exists()
    ]
    if missing:
        pytest.fail(f"bin/ lacks {', '.join(missing)}: run `make tools` (tools/kube, tools/argocd)")
    if shutil.which(REDIS) is None:
        pytest.fail(
            f"{REDIS} is not installed: run `make tools` as root (the apt group installs redis-server)"
        )


@pytest.fixture(scope="session")
def loop(tmp_path_factory: pytest.TempPathFactory, loop_built: None) -> Iterator[Loop]:
    root = tmp_path_factory.mktemp("gitops-cluster")
    cluster = ClusterUnderTest(root, free_loop_base(), {"MERIDIAN_GITOPS_POLL_SECONDS": str(POLL_S)})
    watch = SocketWatch(os.path.join(root, ""))
    watch.start()
    result = cluster.run("cluster", "up", "--local", "--gitops")
    if result.returncode != 0:
        watch.stop()
        cluster.run("cluster", "down", "--local")
        pytest.fail(f"`meridian cluster up --local --gitops` failed:\n{output(result)}")
    clone_path: Path = tmp_path_factory.mktemp("working-clone") / "meridian"
    served = root / "gitops" / "git" / "meridian.git"
    git(clone_path.parent, "clone", "-q", str(served), str(clone_path))
    git(clone_path, "config", "user.name", "Meridian Tests")
    git(clone_path, "config", "user.email", "tests@meridian.invalid")
    yield Loop(cluster, WorkingClone(clone_path), watch)
    watch.stop()
    cluster.run("cluster", "down", "--local", "--purge")
