"""Run the platform program under Pulumi's mocks once per environment and share the recording; render
every environment through the pinned charts; serve the pinned charts from a real OCI registry."""

from __future__ import annotations

import subprocess

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
    from meridian_core.errors import MeridianError  # noqa: PLC0415
    from meridian_core.layout import Repo  # noqa: PLC0415
    from meridian_core.yamlio import load_all  # noqa: PLC0415

    from meridian.render.platform import render_platform  # noqa: PLC0415

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


@pytest.fixture(scope="session")
def chart_registry(repo_root, tmp_path_factory):
    """A real OCI registry on loopback holding the six pinned charts, pushed with the pinned Helm as
    a platform team fills its registry mirror; yields (oci:// mirror URL, {chart: archive pushed})."""
    from meridian_core.layout import Repo  # noqa: PLC0415
    from meridian_infra.chart_sources import resolve  # noqa: PLC0415
    from meridian_infra.charts import CHARTS  # noqa: PLC0415
    from support.chart_archives import pinned_charts_source  # noqa: PLC0415
    from support.oci_registry import RegistryDidNotStart, serve_registry  # noqa: PLC0415

    from meridian import toolchain  # noqa: PLC0415
    from meridian.images import registry  # noqa: PLC0415
    from meridian.render.chart_sources import ChartSource, fetch, helm_env  # noqa: PLC0415

    repo = Repo(repo_root)
    tools = {name: toolchain.which(repo, name) for name in ("helm", registry.TOOL)}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `make tools` (tools/tools.toml has its group)")
    pinned_charts_source()  # fails, naming the setting, where the pinned charts cannot be had
    work = tmp_path_factory.mktemp("chart-registry")
    archives = {}
    for pin in CHARTS.values():
        source = resolve(pin, None, "the test run")
        found = ChartSource(pin.name, pin.chart, pin.version, source.location, source.setting)
        archives[pin.chart] = fetch(found, work / "cache", tools["helm"])
    try:
        with serve_registry(tools[registry.TOOL], work / "registry") as address:
            mirror = f"oci://{address}/charts"
            for archive in archives.values():
                pushed = subprocess.run(
                    [tools["helm"], "push", str(archive), mirror, "--plain-http"],
                    capture_output=True,
                    text=True,
                    env=helm_env(work / "helm"),
                    timeout=300,
                    check=False,
                )
                assert pushed.returncode == 0, pushed.stderr
            yield mirror, archives
    except RegistryDidNotStart as exc:
        pytest.fail(str(exc))
