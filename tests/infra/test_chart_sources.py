"""Chart mirrors: each kind of source works or fails with an error naming its setting; never a silent skip.

The repositories here are real: chart archives made in a temporary folder, served by a real HTTP
server on loopback with an index.yaml, as an internal mirror would serve them.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from meridian_infra.chart_sources import (
    MIRROR_ENV,
    ChartSourceError,
    ChartUnreachable,
    SourceKind,
    parse,
    resolve,
)
from meridian_infra.charts import CHARTS
from meridian_infra.cluster import ClusterAccess
from meridian_infra.helm import ChartUnavailable
from meridian_infra.offline import OFFLINE_KUBECONFIG, offline_secrets, run_offline
from meridian_infra.program import declare_platform
from meridian_infra.spec import load_environment
from support.chart_archives import make_archive, upstreams_at
from support.ports import free_port

PIN = CHARTS["loki"]


def write_index(folder: Path, entries: dict[str, list[str]]) -> None:
    lines = ["apiVersion: v1", "entries:"]
    for chart, versions in entries.items():
        lines.append(f"  {chart}:")
        lines += [f"  - name: {chart}\n    version: {v}\n    urls: [{chart}-{v}.tgz]" for v in versions]
    (folder / "index.yaml").write_text("\n".join(lines) + "\n")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder and the loopback URL that serves it."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/charts"
    finally:
        server.shutdown()
        server.server_close()


def test_a_folder_of_archives_holding_the_pinned_version_is_installed_by_path(tmp_path):
    archive = make_archive(tmp_path, PIN.chart, PIN.version)
    for value in (str(tmp_path), f"file://{tmp_path}"):
        source = parse(PIN, value, "$MERIDIAN_CHART_MIRROR")
        source.check()
        assert source.kind is SourceKind.ARCHIVES
        assert source.release_args() == {"chart": str(archive), "version": PIN.version}


def test_a_missing_folder_names_the_setting(tmp_path):
    source = parse(PIN, str(tmp_path / "nowhere"), "$MERIDIAN_CHART_MIRROR")
    with pytest.raises(ChartSourceError, match=r"\$MERIDIAN_CHART_MIRROR: .*nowhere is not a folder"):
        source.check()


def test_a_folder_without_the_pinned_version_lists_what_it_has(tmp_path):
    make_archive(tmp_path, PIN.chart, "6.0.0")
    source = parse(PIN, str(tmp_path), "charts.loki.repository in environments/dev/platform.yaml")
    with pytest.raises(ChartSourceError) as caught:
        source.check()
    assert f"has no loki-{PIN.version}.tgz (it has loki-6.0.0.tgz)" in str(caught.value)
    assert "charts.loki.repository in environments/dev/platform.yaml" in str(caught.value)


def test_an_archive_whose_chart_is_another_version_is_refused(tmp_path):
    made = make_archive(tmp_path / "other", PIN.chart, "6.0.0")
    made.rename(tmp_path / f"{PIN.chart}-{PIN.version}.tgz")
    with pytest.raises(ChartSourceError, match=f"holds loki 6.0.0, not the pinned {PIN.version}"):
        parse(PIN, str(tmp_path), "$MERIDIAN_CHART_MIRROR").check()


def test_an_http_mirror_serving_the_pinned_version_is_used_as_a_repository(served):
    root, url = served
    charts = root / "charts"
    make_archive(charts, PIN.chart, PIN.version)
    write_index(charts, {PIN.chart: [PIN.version, "6.0.0"]})
    source = parse(PIN, url, "$MERIDIAN_CHART_MIRROR")
    source.check()
    assert source.release_args() == {
        "chart": "loki",
        "version": PIN.version,
        "repository_opts": {"repo": url},
    }


def test_a_mistyped_mirror_url_is_an_error_not_offline(served):
    root, url = served
    (root / "charts").mkdir()
    write_index(root / "charts", {PIN.chart: [PIN.version]})
    source = parse(PIN, url.replace("/charts", "/chrats"), "$MERIDIAN_CHART_MIRROR")
    with pytest.raises(ChartSourceError, match=r"answered HTTP 404: .* is not a Helm repository"):
        source.check()


def test_a_mirror_without_the_pinned_version_lists_its_versions(served):
    root, url = served
    (root / "charts").mkdir()
    write_index(root / "charts", {PIN.chart: ["6.0.0"], "alloy": ["1.0.0"]})
    with pytest.raises(ChartSourceError, match=r"does not serve loki .* \(it has 6.0.0\)"):
        parse(PIN, url, "$MERIDIAN_CHART_MIRROR").check()


def test_a_mirror_that_does_not_answer_is_unreachable():
    url = f"http://127.0.0.1:{free_port()}/charts"
    with pytest.raises(ChartUnreachable, match="did not answer"):
        parse(PIN, url, "$MERIDIAN_CHART_MIRROR").check()


@pytest.mark.parametrize(
    "value",
    ["htps://mirror.example/charts", "mirror.example/charts", "charts/", "file://host/charts", "https:///x"],
)
def test_a_value_that_is_no_source_is_refused_with_what_is_allowed(value):
    with pytest.raises(ChartSourceError) as caught:
        parse(PIN, value, "$MERIDIAN_CHART_MIRROR")
    assert f"$MERIDIAN_CHART_MIRROR is {value!r}" in str(caught.value)
    assert "oci://" in str(caught.value)


def test_an_oci_registry_locates_the_chart_under_its_base():
    source = parse(PIN, "oci://registry.example/helm-charts/", "$MERIDIAN_CHART_MIRROR")
    assert source.release_args() == {
        "chart": "oci://registry.example/helm-charts/loki",
        "version": PIN.version,
    }


def test_an_oci_registry_holding_the_pinned_charts_passes_the_check(chart_registry):
    mirror, _ = chart_registry
    for pin in CHARTS.values():
        source = parse(pin, mirror, "$MERIDIAN_CHART_MIRROR")
        assert source.kind is SourceKind.OCI
        source.check()


def test_a_mistyped_oci_mirror_is_an_error_naming_the_setting(chart_registry):
    mirror, _ = chart_registry
    typo = mirror.replace("/charts", "/chrats")
    with pytest.raises(ChartSourceError) as caught:
        parse(PIN, typo, "$MERIDIAN_CHART_MIRROR").check()
    assert f"$MERIDIAN_CHART_MIRROR: {typo} has no loki {PIN.version}" in str(caught.value)
    assert "answered 404" in str(caught.value)


def test_an_oci_registry_that_does_not_answer_is_unreachable():
    with pytest.raises(ChartUnreachable, match="did not answer"):
        parse(PIN, f"oci://127.0.0.1:{free_port()}/charts", "$MERIDIAN_CHART_MIRROR").check()


def test_the_program_installs_every_chart_from_an_oci_mirror(repo_root, monkeypatch, chart_registry):
    mirror, _ = chart_registry
    monkeypatch.setenv(MIRROR_ENV, mirror)
    platform, recording = declare(load_environment(repo_root / "environments", "dev"))
    assert platform.charts.skipped == []
    releases = {r.inputs["name"]: r.inputs for r in recording.helm_releases()}
    assert {name: r["chart"] for name, r in releases.items()} == {
        name: f"{mirror}/{pin.chart}" for name, pin in CHARTS.items()
    }


def test_the_spec_wins_over_the_machine_setting_and_that_over_upstream(tmp_path, monkeypatch):
    spec_file = "environments/dev/platform.yaml"
    env = {MIRROR_ENV: str(tmp_path)}
    spec_mirror = resolve(PIN, "https://mirror.example/helm", spec_file, environ=env)
    assert spec_mirror.location == "https://mirror.example/helm" and not spec_mirror.upstream
    assert resolve(PIN, None, spec_file, environ=env).location == str(tmp_path)
    monkeypatch.chdir(tmp_path.parent)
    relative = resolve(PIN, None, spec_file, environ={MIRROR_ENV: tmp_path.name})
    assert relative.location == str(tmp_path)
    upstream = resolve(PIN, None, spec_file, environ={})
    assert upstream.upstream and upstream.location == PIN.repository


def declare(spec):
    holder = {}

    def program():
        holder["platform"] = declare_platform(
            spec,
            ClusterAccess(kubeconfig=OFFLINE_KUBECONFIG),
            probe_charts=True,
            secrets=offline_secrets(spec),
        )

    recording = run_offline(program, stack=spec.name)
    return holder["platform"], recording


def test_an_unreachable_upstream_skips_an_optional_chart_and_names_both_mirror_settings(
    repo_root, monkeypatch, tmp_path, capsys
):
    closed = f"http://127.0.0.1:{free_port()}/charts"
    upstreams_at(monkeypatch, tmp_path / "charts", unreachable=("loki",), closed_url=closed)
    platform, recording = declare(load_environment(repo_root / "environments", "dev"))
    assert platform.charts.skipped == ["loki"]
    releases = {r.inputs["name"]: r.inputs for r in recording.helm_releases()}
    assert "loki" not in releases and releases["alloy"]["chart"] == str(
        tmp_path / "charts" / "alloy-1.11.1.tgz"
    )


def test_a_mirror_that_does_not_answer_stops_the_program_instead_of_skipping(
    repo_root, monkeypatch, tmp_path
):
    upstreams_at(monkeypatch, tmp_path / "charts")
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{free_port()}/charts")
    with pytest.raises(
        ChartUnavailable,
        match=r"from http://127.0.0.1:\d+/charts \(\$MERIDIAN_CHART_MIRROR\).*did not answer",
    ):
        declare(load_environment(repo_root / "environments", "dev"))


def test_a_required_chart_whose_upstream_does_not_answer_stops_the_program(repo_root, monkeypatch, tmp_path):
    closed = f"http://127.0.0.1:{free_port()}/charts"
    upstreams_at(monkeypatch, tmp_path / "charts", unreachable=("argo-cd",), closed_url=closed)
    with pytest.raises(ChartUnavailable, match=r"charts.argo-cd.required is true"):
        declare(load_environment(repo_root / "environments", "staging"))
