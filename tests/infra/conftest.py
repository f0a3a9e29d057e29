"""Run the platform program under Pulumi's mocks once per environment and share the recording."""

from __future__ import annotations

import pytest
from meridian_infra.offline import record_platform
from meridian_infra.spec import load_environment


@pytest.fixture(scope="session")
def declared(repo_root):
    """Per environment: (spec, platform, recording) of the program run offline."""
    runs = {}
    for env in ("dev", "staging", "prod"):
        spec = load_environment(repo_root / "environments", env)
        platform, recording = record_platform(spec)
        runs[env] = (spec, platform, recording)
    return runs


@pytest.fixture(scope="session")
def rendered(repo_root, tmp_path_factory):
    """Per environment: the platform rendered with every chart, as (objects by file stem, chart
    objects, CRDs). The charts come from MERIDIAN_CHART_MIRROR (a folder or an http(s) URL) or the
    spec's repositories; where neither can be had this fails, saying which setting to give."""
    from meridian.errors import MeridianError  # noqa: PLC0415
    from meridian.paths import Repo  # noqa: PLC0415
    from meridian.render.platform import render_platform  # noqa: PLC0415
    from meridian.yamlio import load_all  # noqa: PLC0415

    runs = {}
    for env in ("dev", "staging", "prod"):
        spec = load_environment(repo_root / "environments", env)
        out = tmp_path_factory.mktemp(f"platform-{env}")
        try:
            render_platform(spec, out / "platform", charts_from=Repo(repo_root), crd_out=out / "crds")
        except MeridianError as exc:
            pytest.fail(f"{exc.message}\n{exc.hint or ''}", pytrace=False)
        program = [d for f in sorted((out / "platform").glob("*.yaml")) for d in load_all(f.read_text())]
        charts = {
            f.stem: load_all(f.read_text()) for f in sorted((out / "platform" / "charts").glob("*.yaml"))
        }
        crds = {f.stem: load_all(f.read_text()) for f in sorted((out / "crds").glob("*.yaml"))}
        runs[env] = Render(spec=spec, program=program, charts=charts, crds=crds, folder=out)
    return runs


class Render:
    """One environment's platform render: the program's objects and each release's chart objects."""

    def __init__(self, *, spec, program, charts, crds, folder) -> None:
        self.spec = spec
        self.program = program
        self.charts = charts
        self.crds = crds
        self.folder = folder

    @property
    def chart_objects(self):
        return [o for objects in self.charts.values() for o in objects]

    def find(self, kind, name=None, release=None):
        pool = self.charts[release] if release else self.chart_objects + self.program
        return [o for o in pool if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]

    def one(self, kind, name, release=None):
        found = self.find(kind, name, release)
        assert len(found) == 1, f"{kind} {name}: {len(found)} rendered"
        return found[0]
