"""Where tests get Helm charts: small archives of our own for the source checks, and the pinned
charts themselves (from a mirror or upstream) for the tests that install or render them."""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import replace
from pathlib import Path

from meridian_infra.chart_sources import MIRROR_ENV, ChartSourceError, ChartUnreachable, resolve
from meridian_infra.charts import CHARTS


def make_archive(folder: Path, chart: str, version: str) -> Path:
    """`<folder>/<chart>-<version>.tgz` holding only a Chart.yaml: enough for the source checks."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chart}-{version}.tgz"
    meta = f"apiVersion: v2\nname: {chart}\nversion: {version}\n".encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"{chart}/Chart.yaml")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
    return path


def archive_folder(folder: Path) -> Path:
    """A folder with an archive of every pinned chart at its pinned version."""
    for pin in CHARTS.values():
        make_archive(folder, pin.chart, pin.version)
    return folder


def upstreams_at(
    monkeypatch, folder: Path, *, unreachable: tuple[str, ...] = (), closed_url: str = ""
) -> None:
    """Point every pin's upstream at `folder` (a real folder of archives), and the `unreachable` ones at
    `closed_url`, a loopback address nothing listens on; the machine-wide mirror setting is cleared."""
    archive_folder(folder)
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    for key, pin in list(CHARTS.items()):
        monkeypatch.setitem(
            CHARTS, key, replace(pin, repository=closed_url if key in unreachable else str(folder))
        )


def pinned_charts_source() -> str:
    """Where this run gets the six pinned charts: `$MERIDIAN_CHART_MIRROR`, checked, or the upstreams.

    Tests that install or render the real charts call this first; without charts they fail (never
    skip) and say which setting to give.
    """
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    problems = []
    for pin in CHARTS.values():
        try:
            source = resolve(pin, None, "the test run")
            source.check()
        except (ChartSourceError, ChartUnreachable) as exc:
            problems.append(str(exc))
    if problems:
        hint = (
            f"{MIRROR_ENV}={mirror} does not serve every pinned chart"
            if mirror
            else f"the upstream chart repositories cannot be reached; set {MIRROR_ENV} to a mirror "
            "(an http(s) Helm repository, an oci:// registry, or a folder of <chart>-<version>.tgz)"
        )
        raise AssertionError(hint + ":\n  " + "\n  ".join(problems))
    return mirror or "upstream"
