"""One real local control plane for the policy webhook's tests, in a temporary state folder on free
ports, started as a developer starts it (`meridian cluster up --local`): the webhook is one of its
components. Each test names the environment it needs (`use_environment`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.local_cluster import REPO_ROOT, ClusterUnderTest, new_cluster, output

from meridian.cluster.components import BINARIES


@pytest.fixture(scope="session")
def webhook_built() -> None:
    missing = [name for name in (*BINARIES, "kubectl") if not (REPO_ROOT / "bin" / name).exists()]
    if missing:
        pytest.fail(f"bin/ lacks {', '.join(missing)}: run `make tools` (tools/kube/build.sh, tools/go)")


@pytest.fixture(scope="session")
def admission_cluster(
    tmp_path_factory: pytest.TempPathFactory, webhook_built: None
) -> Iterator[ClusterUnderTest]:
    cluster = new_cluster(tmp_path_factory.mktemp("admission-cluster"))
    result = cluster.run("cluster", "up", "--local")
    if result.returncode != 0:
        cluster.run("cluster", "down", "--local")
        pytest.fail(f"`meridian cluster up --local` failed:\n{output(result)}")
    yield cluster
    cluster.run("cluster", "down", "--local", "--purge")
