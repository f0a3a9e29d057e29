"""One real local control plane for the policy webhook's tests, in a temporary state folder on free
ports, started as a developer starts it (`meridian cluster up --local`): the webhook is one of its
components. Each test names the environment it needs (`use_environment`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.local_cluster import REPO_ROOT, ClusterUnderTest, running_cluster

from meridian.cluster.components import BINARIES

ENVS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def webhook_built() -> None:
    missing = [name for name in (*BINARIES, "kubectl") if not (REPO_ROOT / "bin" / name).exists()]
    if missing:
        pytest.fail(f"bin/ lacks {', '.join(missing)}: run `make tools` (tools/kube/build.sh, tools/go)")


@pytest.fixture(scope="session")
def admission_cluster(
    tmp_path_factory: pytest.TempPathFactory, webhook_built: None
) -> Iterator[ClusterUnderTest]:
    yield from running_cluster(tmp_path_factory.mktemp("admission-cluster"))


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each environment rendered as `meridian render ENV` renders it (apps, the platform and every
    chart's objects, charts from MERIDIAN_CHART_MIRROR or upstream), into a folder of its own."""
    from meridian_core.errors import MeridianError  # noqa: PLC0415
    from meridian_core.layout import Repo  # noqa: PLC0415

    from meridian.environments import load_spec  # noqa: PLC0415
    from meridian.render.apps import render_apps  # noqa: PLC0415
    from meridian.render.platform import render_platform  # noqa: PLC0415

    repo = Repo(REPO_ROOT)
    folders = {}
    for env in ENVS:
        out = tmp_path_factory.mktemp(f"render-{env}")
        try:
            render_apps(repo, env, out / "apps")
            crds = tmp_path_factory.mktemp(f"crds-{env}")
            render_platform(load_spec(repo, env), out / "platform", charts_from=repo, crd_out=crds)
        except MeridianError as exc:
            pytest.fail(f"rendering {env}: {exc.message}\n{exc.hint or ''}", pytrace=False)
        folders[env] = out
    return folders
