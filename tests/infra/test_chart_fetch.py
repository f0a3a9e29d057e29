"""Where `meridian render` gets each pinned chart: a folder, an http(s) repository on loopback, or a
clear error naming the settings; and how chart exemptions reach the rendered objects."""

from __future__ import annotations

import hashlib
import http.server
import io
import re
import socket
import tarfile
import threading
from pathlib import Path

import pytest
import yaml
from meridian_core.errors import InputError
from meridian_infra.charts import CHARTS

from meridian.render import chart_exemptions
from meridian.render.chart_sources import MIRROR_ENV, ChartSource, ChartUnavailable, choose_repository, fetch


def _archive(folder: Path, name: str, version: str, *, inside_version: str | None = None) -> Path:
    chart = yaml.safe_dump({"apiVersion": "v2", "name": name, "version": inside_version or version}).encode()
    path = folder / f"{name}-{version}.tgz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(chart)
        tar.addfile(info, io.BytesIO(chart))
    return path


def _index(folder: Path, archives: list[Path], digest: str | None = None) -> None:
    entries: dict[str, list[dict[str, object]]] = {}
    for archive in archives:
        name, version = archive.name.removesuffix(".tgz").rsplit("-", 1)
        entry = {"version": version, "urls": [archive.name]}
        entry["digest"] = digest or hashlib.sha256(archive.read_bytes()).hexdigest()
        entries.setdefault(name, []).append(entry)
    (folder / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": entries}))


def _source(repository: str, version: str = "1.2.3") -> ChartSource:
    return ChartSource("demo", "demo", version, repository, f"{MIRROR_ENV}={repository}")


@pytest.fixture
def served(tmp_path):
    """The folder served over http on loopback, as an internal chart mirror would be."""
    folder = tmp_path / "mirror"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_folder_mirror_is_read_through_its_index(tmp_path):
    archive = _archive(tmp_path, "demo", "1.2.3")
    _index(tmp_path, [archive, _archive(tmp_path, "demo", "1.0.0")])
    assert fetch(_source(str(tmp_path)), tmp_path / "cache", "helm") == archive
    assert fetch(_source(f"file://{tmp_path}"), tmp_path / "cache", "helm") == archive


def test_a_folder_without_an_index_is_read_by_archive_name(tmp_path):
    archive = _archive(tmp_path, "demo", "1.2.3")
    assert fetch(_source(str(tmp_path)), tmp_path / "cache", "helm") == archive


def test_an_http_mirror_is_downloaded_once_and_checked_against_its_digest(served, tmp_path):
    folder, url = served
    _index(folder, [_archive(folder, "demo", "1.2.3")])
    cache = tmp_path / "cache"
    first = fetch(_source(url), cache, "helm")
    assert first.is_file() and first.is_relative_to(cache)
    (folder / "demo-1.2.3.tgz").unlink()  # the cached archive serves from now on
    assert fetch(_source(url), cache, "helm") == first


def test_an_archive_whose_bytes_differ_from_the_index_is_refused(served, tmp_path):
    folder, url = served
    _index(folder, [_archive(folder, "demo", "1.2.3")], digest="0" * 64)
    with pytest.raises(ChartUnavailable, match="does not match the index's digest"):
        fetch(_source(url), tmp_path / "cache", "helm")


def test_a_mirror_that_lacks_the_pinned_version_says_which_it_has(tmp_path):
    _index(tmp_path, [_archive(tmp_path, "demo", "1.0.0")])
    with pytest.raises(ChartUnavailable, match=r"no version 1\.2\.3 \(versions: 1\.0\.0\)"):
        fetch(_source(str(tmp_path)), tmp_path / "cache", "helm")


def test_an_archive_holding_another_version_is_refused(tmp_path):
    _archive(tmp_path, "demo", "1.2.3", inside_version="9.9.9")
    with pytest.raises(ChartUnavailable, match=r"holds chart demo 9\.9\.9"):
        fetch(_source(str(tmp_path)), tmp_path / "cache", "helm")


def test_an_unreachable_repository_fails_naming_both_settings(tmp_path):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ChartUnavailable) as caught:
        fetch(_source(f"http://127.0.0.1:{port}/charts"), tmp_path / "cache", "helm")
    assert "GET http://127.0.0.1" in caught.value.message
    assert MIRROR_ENV in caught.value.hint and "charts.demo.repository" in caught.value.hint


def test_a_missing_folder_fails_naming_the_setting_that_chose_it(tmp_path):
    with pytest.raises(ChartUnavailable, match=rf"{MIRROR_ENV}=.*is no folder"):
        fetch(_source(str(tmp_path / "nowhere")), tmp_path / "cache", "helm")


def test_render_chooses_the_repository_the_program_installs_from(tmp_path, monkeypatch):
    # One rule for both (meridian_infra.chart_sources.resolve): spec, then the variable, then upstream.
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    assert choose_repository("vault", None, "f") == (str(tmp_path), f"${MIRROR_ENV}")
    chosen = choose_repository("vault", "oci://registry.internal/charts", "f")
    assert chosen == ("oci://registry.internal/charts", "charts.vault.repository in f")
    monkeypatch.delenv(MIRROR_ENV)
    upstream = choose_repository("vault", None, "f")
    assert upstream[0] == "https://helm.releases.hashicorp.com" and "upstream" in upstream[1]
    with pytest.raises(ChartUnavailable, match="not one of"):
        choose_repository("vault", "mirror.internal/charts", "f")


def _exemptions(tmp_path: Path, entries: list[dict[str, object]]) -> chart_exemptions.ChartExemptions:
    path = tmp_path / chart_exemptions.EXEMPTIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"exemptions": entries}))
    return chart_exemptions.load(tmp_path)


ENTRY = {
    "release": "demo",
    "kind": "Deployment",
    "name": "demo-*",
    "rules": ["MER-PSS-015"],
    "expires": "2027-01-31",
    "reason": "the vendor image writes its cache under /var",
}


def test_a_chart_exemption_becomes_the_objects_own_annotation(tmp_path):
    objects = {"demo": [{"kind": "Deployment", "metadata": {"name": "demo-web"}}]}
    assert chart_exemptions.apply(_exemptions(tmp_path, [ENTRY]), "dev", objects) == 1
    annotations = objects["demo"][0]["metadata"]["annotations"]
    assert annotations == {
        "exemption.meridian.dev/MER-PSS-015": (
            "expires=2027-01-31; reason=the vendor image writes its cache under /var"
        )
    }


def test_a_chart_exemption_for_an_object_that_is_gone_is_an_error(tmp_path):
    objects = {"demo": [{"kind": "StatefulSet", "metadata": {"name": "demo-web"}}]}
    with pytest.raises(InputError, match="matches no object the chart renders in dev"):
        chart_exemptions.apply(_exemptions(tmp_path, [ENTRY]), "dev", objects)
    # Limited to other environments, the entry does not apply to dev at all.
    assert (
        chart_exemptions.apply(_exemptions(tmp_path, [{**ENTRY, "environments": ["prod"]}]), "dev", objects)
        == 0
    )


def test_a_chart_exemption_without_a_date_or_reason_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"exemptions\.0\.expires"):
        _exemptions(tmp_path, [{k: v for k, v in ENTRY.items() if k != "expires"}])
    with pytest.raises(InputError, match=r"exemptions\.0\.reason"):
        _exemptions(tmp_path, [{**ENTRY, "reason": "x"}])


def test_render_fails_naming_the_mirror_setting_when_a_chart_cannot_be_had(run_meridian, tmp_path):
    result = run_meridian("render", "dev", "--platform", env={MIRROR_ENV: str(tmp_path / "no-mirror")})
    assert result.returncode == 1, result.stdout + result.stderr
    shown = " ".join((result.stdout + result.stderr).split())
    assert f"${MIRROR_ENV}" in shown and str(tmp_path / "no-mirror") in shown
    assert re.search(r"charts\.[a-z-]+\.repository", shown), shown


def _scratch_checkout(root: Path, repo_root: Path) -> Path:
    """The checkout's program, environments, tools and exemptions, with a build/ and .meridian/ of its
    own: a render here leaves the developer's chart cache alone."""
    root.mkdir()
    for name in ("infra", "environments", "tools", "bin", "apps", "policies", "Pulumi.yaml"):
        (root / name).symlink_to(repo_root / name)
    return root


@pytest.mark.slow
def test_render_pulls_every_pinned_chart_from_an_oci_registry_mirror(
    run_meridian, repo_root, chart_registry, tmp_path
):
    mirror, archives = chart_registry
    root = _scratch_checkout(tmp_path / "checkout", repo_root)
    result = run_meridian(
        "render", "dev", "--platform", cwd=root, env={MIRROR_ENV: mirror, "MERIDIAN_ROOT": str(root)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    charts = root / "build" / "dev" / "platform" / "charts"
    assert {p.stem for p in charts.glob("*.yaml")} == set(CHARTS)
    # What Helm pulled from the registry is, byte for byte, what was pushed.
    pulled = {p.name: p.read_bytes() for p in (root / ".meridian" / "charts").rglob("*.tgz")}
    assert pulled == {a.name: a.read_bytes() for a in archives.values()}


def test_a_mistyped_oci_mirror_fails_the_render_naming_the_setting(
    run_meridian, repo_root, chart_registry, tmp_path
):
    mirror, _ = chart_registry
    typo = mirror.replace("/charts", "/chrats")
    root = _scratch_checkout(tmp_path / "checkout", repo_root)
    result = run_meridian(
        "render", "dev", "--platform", cwd=root, env={MIRROR_ENV: typo, "MERIDIAN_ROOT": str(root)}
    )
    assert result.returncode == 1, result.stdout + result.stderr
    shown = " ".join((result.stdout + result.stderr).split())
    assert f"from {typo} (${MIRROR_ENV}): helm pull {typo}/" in shown, shown
    assert "not found" in shown, shown
    assert not list((root / ".meridian" / "charts").rglob("*.tgz"))
