"""One real local control plane for the whole session, in a temporary state folder on free
ports, so the developer's own `.meridian/cluster` is never touched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.local_cluster import REPO_ROOT, ClusterUnderTest, running_cluster

from meridian.cluster.components import BINARIES


@pytest.fixture(scope="session")
def control_plane_built() -> None:
    missing = [name for name in BINARIES if not (REPO_ROOT / "bin" / name).exists()]
    if missing:
        pytest.fail(f"bin/ lacks {', '.join(missing)}: run `make tools` (tools/kube/build.sh)")


@pytest.fixture(scope="session")
def local_cluster(
    tmp_path_factory: pytest.TempPathFactory, control_plane_built: None
) -> Iterator[ClusterUnderTest]:
    yield from running_cluster(tmp_path_factory.mktemp("local-cluster"))
