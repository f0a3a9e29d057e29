"""Where a pinned chart's archive comes from, and fetching it: a folder of archives, an http(s) chart
repository or an OCI registry.

The repository of a chart is chosen as the program chooses it (`meridian_infra.chart_sources`):
`charts.<name>.repository` in the environment's spec, the `MERIDIAN_CHART_MIRROR` environment
variable (one mirror for every chart), else the upstream repository `charts.py` pins. A chart that
cannot be had is an error naming those settings; it is never skipped, because the gate would then
pass objects it never saw.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from meridian_core.errors import RefusedError
from meridian_infra.chart_sources import MIRROR_ENV, ChartSourceError, plain_http, resolve
from meridian_infra.charts import CHARTS

from meridian import toolchain

_HINT = (
    f"set {MIRROR_ENV} to a chart mirror for every chart (a folder of chart archives, "
    "an http(s) chart repository or an oci:// registry), or charts.{release}.repository "
    "in the environment's platform.yaml"
)
FETCH_TIMEOUT = 30.0


class ChartUnavailable(RefusedError):
    pass


@dataclass(frozen=True)
class ChartSource:
    """One release's chart: the pinned name and version, and the repository it is fetched from."""

    release: str  # the chart's key in charts.py, also the release name
    chart: str
    version: str
    repository: str
    setting: str  # which setting chose the repository, for messages

    @property
    def archive_name(self) -> str:
        return f"{self.chart}-{self.version}.tgz"


def choose_repository(release: str, spec_override: str | None, env_file: str) -> tuple[str, str]:
    """(repository, the setting that named it) for one release: the same choice the program makes
    (`meridian_infra.chart_sources.resolve`), so the gate renders the chart `pulumi up` installs."""
    try:
        source = resolve(CHARTS[release], spec_override, env_file)
    except ChartSourceError as exc:
        raise ChartUnavailable(str(exc), hint=_HINT.format(release=release)) from None
    setting = (
        "the upstream repository pinned in infra/meridian_infra/charts.py"
        if source.upstream
        else source.setting
    )
    return source.location, setting


def fetch(source: ChartSource, cache: Path, helm: str) -> Path:
    """The chart's archive on disk: found in a folder, or downloaded once into `cache`."""
    repository = source.repository
    if repository.startswith("oci://"):
        archive = _pull_oci(source, cache, helm)
    elif repository.startswith(("http://", "https://")):
        archive = _download(source, cache)
    else:
        archive = _in_folder(source, Path(repository.removeprefix("file://")))
    _check_archive(source, archive)
    return archive


def _unavailable(source: ChartSource, why: str) -> ChartUnavailable:
    return ChartUnavailable(
        f"chart {source.chart} {source.version} (release {source.release}) cannot be had from "
        f"{source.repository} ({source.setting}): {why}",
        hint=_HINT.format(release=source.release),
    )


def _in_folder(source: ChartSource, folder: Path) -> Path:
    if not folder.is_dir():
        raise _unavailable(source, f"{folder} is no folder")
    index = folder / "index.yaml"
    if index.is_file():
        entry = _index_entry(source, _read_index(source, index.read_bytes()))
        url = entry["urls"][0]
        if "://" in url:
            raise _unavailable(source, f"{index} points at {url}, outside the folder")
        archive = folder / str(url)
    else:
        archive = folder / source.archive_name
    if not archive.is_file():
        raise _unavailable(source, f"{archive} does not exist")
    return archive


def _read_index(source: ChartSource, data: bytes) -> dict[str, Any]:
    try:
        index = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise _unavailable(source, f"its index.yaml is not valid YAML ({exc})") from None
    if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
        raise _unavailable(source, "its index.yaml has no `entries`")
    return index


def _index_entry(source: ChartSource, index: dict[str, Any]) -> dict[str, Any]:
    versions = index["entries"].get(source.chart) or []
    for entry in versions:
        if isinstance(entry, dict) and str(entry.get("version")) == source.version and entry.get("urls"):
            return entry
    listed = ", ".join(str(e.get("version")) for e in versions if isinstance(e, dict)) or "none"
    raise _unavailable(source, f"its index lists no version {source.version} (versions: {listed})")


def _download(source: ChartSource, cache: Path) -> Path:
    # Keyed by repository as well: two mirrors may serve different bytes under one name.
    key = hashlib.sha256(source.repository.encode()).hexdigest()[:16]
    target = cache / key / source.archive_name
    if target.is_file():
        return target
    base = source.repository.rstrip("/") + "/"
    index = _read_index(source, _get(source, urllib.parse.urljoin(base, "index.yaml")))
    entry = _index_entry(source, index)
    data = _get(source, urllib.parse.urljoin(base, entry["urls"][0]))
    digest = entry.get("digest")
    if digest and hashlib.sha256(data).hexdigest() != digest:
        raise _unavailable(source, f"the archive's sha256 does not match the index's digest {digest}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
        partial.write(data)
    Path(partial.name).replace(target)
    return target


def _get(source: ChartSource, url: str) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise _unavailable(source, f"{url} is no http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:  # noqa: S310 - http(s) only
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise _unavailable(source, f"GET {url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _unavailable(source, f"GET {url} failed: {reason}") from None


def _pull_oci(source: ChartSource, cache: Path, helm: str) -> Path:
    key = hashlib.sha256(source.repository.encode()).hexdigest()[:16]
    target = cache / key / source.archive_name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    ref = f"{source.repository.rstrip('/')}/{source.chart}"
    # As the program's source check does: plain HTTP to a registry on loopback, HTTPS elsewhere.
    plain = ["--plain-http"] if plain_http(source.repository) else []
    with tempfile.TemporaryDirectory(prefix="meridian-helm-") as home:
        proc = toolchain.run(
            [helm, "pull", ref, "--version", source.version, "--destination", str(target.parent), *plain],
            env=helm_env(Path(home)),
            timeout=300,
        )
    if proc.returncode != 0 or not target.is_file():
        raise _unavailable(source, f"helm pull {ref} failed: {' '.join(proc.stderr.split())[:300]}")
    return target


def _check_archive(source: ChartSource, archive: Path) -> None:
    """The archive holds the pinned chart at the pinned version, not whatever the mirror named so."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(f"{source.chart}/Chart.yaml")
            meta = yaml.safe_load(member.read()) if member else None
    except (tarfile.TarError, KeyError, OSError, yaml.YAMLError) as exc:
        raise _unavailable(source, f"{archive} is no chart archive ({exc})") from None
    if not isinstance(meta, dict) or (meta.get("name"), str(meta.get("version"))) != (
        source.chart,
        source.version,
    ):
        found = f"{meta.get('name')} {meta.get('version')}" if isinstance(meta, dict) else "nothing"
        raise _unavailable(source, f"{archive} holds chart {found}")


def helm_env(home: Path) -> dict[str, str]:
    """Helm with its own empty homes: no repositories, registries or plugins from the user's ~."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
    for name in ("CACHE", "CONFIG", "DATA"):
        env[f"HELM_{name}_HOME"] = str(home / name.lower())
    return env
