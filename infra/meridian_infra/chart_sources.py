"""Where each pinned chart is fetched from, and whether it can be fetched there.

A chart comes from `charts.<name>.repository` in the environment's spec (the most specific setting),
else `$MERIDIAN_CHART_MIRROR` (one mirror for every chart of every environment), else its upstream
repository. A mirror is one of

- a classic Helm repository over http(s) (an `index.yaml` beside the archives),
- an OCI registry (`oci://host/path`; the chart is `oci://host/path/<chart>`, tagged with its
  version); one on a loopback address is spoken to in plain HTTP, as Docker and containerd treat
  127.0.0.0/8 and localhost, every other over HTTPS,
- a local folder of archives (`/abs/path` or `file:///abs/path`, holding `<chart>-<version>.tgz`; in
  the environment variable a relative folder is relative to the current directory).

A mistyped or broken mirror is an error naming the setting; only an unreachable *upstream* repository
lets an optional chart be skipped (an air-gapped laptop), since nobody asked for that address.
"""

from __future__ import annotations

import io
import os
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from meridian_core.loopback import is_loopback
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from meridian_infra.charts import ChartPin

MIRROR_ENV = "MERIDIAN_CHART_MIRROR"
ALLOWED = (
    "an http(s):// Helm repository, an oci:// registry, "
    "or an absolute path (or file:// URL) of a folder of archives"
)
_PROBE_TIMEOUT_S = 10.0


class ChartSourceError(ValueError):
    """A chart source that is set wrongly or does not hold the pinned chart: always an error."""


class ChartUnreachable(RuntimeError):
    """The source did not answer at all (no route, no name, refused, timed out)."""


class SourceKind(StrEnum):
    REPOSITORY = "repository"
    OCI = "oci"
    ARCHIVES = "archives"


@dataclass(frozen=True)
class ChartSource:
    pin: ChartPin
    kind: SourceKind
    location: str  # repository URL, OCI base, or folder path
    setting: (
        str  # who chose it, for messages: "upstream", "$MERIDIAN_CHART_MIRROR", "charts.x.repository in …"
    )

    @property
    def upstream(self) -> bool:
        return self.setting == "upstream"

    @property
    def archive(self) -> Path:
        return Path(self.location) / f"{self.pin.chart}-{self.pin.version}.tgz"

    def describe(self) -> str:
        where = str(self.archive) if self.kind is SourceKind.ARCHIVES else self.location
        origin = "its upstream repository" if self.upstream else self.setting
        return f"chart {self.pin.chart} {self.pin.version} from {where} ({origin})"

    def release_args(self) -> dict[str, Any]:
        """The chart-locating arguments of a `kubernetes.helm.v3.Release`."""
        if self.kind is SourceKind.ARCHIVES:
            # Helm loads a local archive as it is (`check` read its version); the pin stays on record.
            return {"chart": str(self.archive), "version": self.pin.version}
        if self.kind is SourceKind.OCI:
            return {"chart": f"{self.location.rstrip('/')}/{self.pin.chart}", "version": self.pin.version}
        return {
            "chart": self.pin.chart,
            "version": self.pin.version,
            "repository_opts": {"repo": self.location},
        }

    def check(self) -> None:
        """ChartSourceError if the source does not hold the pinned chart; ChartUnreachable if it is silent."""
        if self.kind is SourceKind.ARCHIVES:
            _check_archive(self)
        elif self.kind is SourceKind.REPOSITORY:
            _check_repository(self)
        else:
            _check_oci(self)


def resolve(
    pin: ChartPin, spec_repository: str | None, spec_file: str, *, environ: dict[str, str] | None = None
) -> ChartSource:
    environ = dict(os.environ) if environ is None else environ
    if spec_repository:
        return parse(pin, spec_repository, f"charts.{pin.name}.repository in {spec_file}")
    mirror = environ.get(MIRROR_ENV, "").strip()
    if mirror:
        if "://" not in mirror and not mirror.startswith("/"):
            mirror = str(Path(mirror).resolve())
        return parse(pin, mirror, f"${MIRROR_ENV}")
    return parse(pin, pin.repository, "upstream")


def parse(pin: ChartPin, value: str, setting: str) -> ChartSource:
    error = source_problem(value)
    if error:
        raise ChartSourceError(f"{setting} is {value!r}: {error}")
    if value.startswith("oci://"):
        return ChartSource(pin, SourceKind.OCI, value, setting)
    if value.startswith(("http://", "https://")):
        return ChartSource(pin, SourceKind.REPOSITORY, value, setting)
    path = urllib.parse.urlparse(value).path if value.startswith("file://") else value
    return ChartSource(pin, SourceKind.ARCHIVES, path, setting)


def source_problem(value: str) -> str | None:
    """Why `value` is not a chart source, or None; shared by the spec's validation and `resolve`."""
    if value.startswith(("http://", "https://", "oci://")):
        parsed = urllib.parse.urlparse(value)
        if not parsed.hostname:
            return f"names no host; allowed: {ALLOWED}"
        return None
    if value.startswith("file://"):
        parsed = urllib.parse.urlparse(value)
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            return f"a file:// URL must be file:///absolute/path; allowed: {ALLOWED}"
        return None
    if value.startswith("/"):
        return None
    return f"not one of: {ALLOWED}"


def _check_archive(source: ChartSource) -> None:
    folder = Path(source.location)
    if not folder.is_dir():
        raise ChartSourceError(f"{source.setting}: {folder} is not a folder")
    archive = source.archive
    if not archive.is_file():
        present = sorted(p.name for p in folder.glob(f"{source.pin.chart}-*.tgz"))
        found = f"it has {', '.join(present)}" if present else f"it has no {source.pin.chart} archive"
        raise ChartSourceError(f"{source.setting}: {folder} has no {archive.name} ({found})")
    version = _archive_version(archive, source.pin.chart)
    if version != source.pin.version:
        raise ChartSourceError(
            f"{source.setting}: {archive} holds {source.pin.chart} {version}, "
            f"not the pinned {source.pin.version}"
        )


def _archive_version(archive: Path, chart: str) -> str:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(f"{chart}/Chart.yaml")
            if member is None:
                raise ChartSourceError(f"{archive} has no {chart}/Chart.yaml: not a Helm chart archive")
            meta = _yaml().load(io.TextIOWrapper(member, encoding="utf-8")) or {}
    except (tarfile.TarError, KeyError, OSError) as exc:
        raise ChartSourceError(f"{archive} is not a readable Helm chart archive: {exc}") from None
    return str(meta.get("version", ""))


def _yaml() -> YAML:
    return YAML(typ="safe", pure=True)


def _fetch(request: urllib.request.Request) -> bytes:
    """The response's body; ChartUnreachable when nothing answers. An HTTP error status is raised as
    urllib's HTTPError: what it means depends on the kind of source."""
    try:
        with urllib.request.urlopen(request, timeout=_PROBE_TIMEOUT_S) as response:  # noqa: S310 - http(s) only
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChartUnreachable(f"{request.full_url} did not answer: {reason}") from None


def _check_repository(source: ChartSource) -> None:
    url = source.location.rstrip("/") + "/index.yaml"
    try:
        body = _fetch(urllib.request.Request(url))  # noqa: S310 - http(s) only
    except urllib.error.HTTPError as exc:
        raise ChartSourceError(
            f"{source.setting}: {url} answered HTTP {exc.code}: {source.location} is not a Helm repository"
        ) from None
    try:
        index = _yaml().load(body) or {}
    except YAMLError as exc:
        raise ChartSourceError(f"{source.setting}: {url} is not a Helm repository index: {exc}") from None
    entries = index.get("entries") if isinstance(index, dict) else None
    if not isinstance(entries, dict):
        raise ChartSourceError(f"{source.setting}: {url} has no `entries`: not a Helm repository index")
    versions = [str(e.get("version")) for e in entries.get(source.pin.chart) or [] if isinstance(e, dict)]
    if source.pin.version not in versions:
        has = f"it has {', '.join(versions[:5])}" if versions else f"it has no chart {source.pin.chart}"
        raise ChartSourceError(
            f"{source.setting}: {source.location} does not serve "
            f"{source.pin.chart} {source.pin.version} ({has})"
        )


def plain_http(location: str) -> bool:
    """Whether an OCI registry is spoken to in plain HTTP: only on a loopback address."""
    return is_loopback(urllib.parse.urlparse(location).hostname or "")


def oci_tag(version: str) -> str:
    """Helm tags a chart with its version, `+` (not allowed in a tag) written as `_`."""
    return version.replace("+", "_")


_OCI_MANIFESTS = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"


def _check_oci(source: ChartSource) -> None:
    """Ask the registry (the OCI distribution API) for the pinned chart's manifest by its tag."""
    parsed = urllib.parse.urlparse(source.location)
    scheme = "http" if plain_http(source.location) else "https"
    repository = "/".join(p for p in (parsed.path.strip("/"), source.pin.chart) if p)
    url = f"{scheme}://{parsed.netloc}/v2/{repository}/manifests/{oci_tag(source.pin.version)}"
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": _OCI_MANIFESTS})  # noqa: S310
    try:
        _fetch(request)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return  # the registry wants credentials: Helm's own registry login answers at install time
        if exc.code == 404:
            raise ChartSourceError(
                f"{source.setting}: {source.location} has no {source.pin.chart} {source.pin.version} "
                f"({url} answered 404): is the registry path right, and was the chart pushed there?"
            ) from None
        raise ChartSourceError(
            f"{source.setting}: {url} answered HTTP {exc.code}: {source.location} is not an OCI registry"
        ) from None
