"""Build an app's image from one commit, without a container engine, and push it.

    commit → exported files → one folder per layer → meridian-image (tar, gzip, config) → registry

Everything comes from the commit, never the working tree: the app's sources, its Dockerfile (the
Go toolchain's version), its Debian lock file and uv.lock. The commit's time is the epoch of every
timestamp (SOURCE_DATE_EPOCH), so the same commit and version build the same digest anywhere.
The Dockerfiles next to each app build the same files on a machine with a container engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meridian import toolchain
from meridian.errors import InputError, RefusedError
from meridian.images import debian, registry
from meridian.paths import Repo
from meridian.promote.git import Git
from meridian.promote.snapshot import Revision

APPS = ("orders", "inventory")
USER = "65532:65532"  # numeric, so Kubernetes' runAsNonRoot can check it
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PORTS = ["50051/tcp", "9090/tcp"]


@dataclass(frozen=True)
class Source:
    """The files of one commit that an image is built from."""

    root: Path
    revision: str
    epoch: int  # the commit's time: SOURCE_DATE_EPOCH


@dataclass(frozen=True)
class Request:
    app: str
    version: str
    source_label: str  # org.opencontainers.image.source


@dataclass
class Layers:
    """The folders of an image, bottom first, and its config."""

    folders: list[tuple[Path, str]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def export_source(git: Git, rev: str, dest: Path, app: str) -> Source:
    """The app's folder and the workspace files a build reads, as committed at `rev`."""
    if app not in APPS:
        raise InputError(f"no image recipe for {app!r}", hint=f"apps with images: {', '.join(APPS)}")
    snapshot = Revision(git, rev)
    snapshot.export(f"apps/{app}", dest / "apps" / app)
    for rel in ("pyproject.toml", "uv.lock", "infra/pyproject.toml"):
        data = snapshot.read(rel)
        if data is not None:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes(data)
    epoch = int(git.run("log", "-1", "--format=%ct", snapshot.sha).strip())
    return Source(dest, snapshot.sha, epoch)


def build_and_push(repo: Repo, source: Source, request: Request, ref: str) -> registry.Pushed:
    """Build `request.app` from `source` and push it as `ref` (registry/repository:tag)."""
    with _umask(0o022), tempfile.TemporaryDirectory(prefix=f"meridian-image-{request.app}-") as tmp:
        work = Path(tmp)
        layers = RECIPES[request.app](repo, source, request, work)
        spec = {
            "epoch": source.epoch,
            "layers": [{"dir": str(folder), "comment": comment} for folder, comment in layers.folders],
            "config": layers.config,
        }
        spec_path = work / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=2, sort_keys=True))
        return registry.push(repo, spec_path, ref)


def labels(source: Source, request: Request) -> dict[str, str]:
    return {
        "org.opencontainers.image.source": request.source_label,
        "org.opencontainers.image.revision": source.revision,
        "org.opencontainers.image.version": request.version,
        "org.opencontainers.image.title": request.app,
    }


# --- the layer both images share ----------------------------------------------------------------


def _base(repo: Repo, source: Source, app: str, folder: Path) -> None:
    """Debian's files from the app's lock, the accounts, the CA bundle, /tmp (debian.make_base)."""
    lock = source.root / "apps" / app / "debian-packages.lock"
    if not lock.is_file():
        raise InputError(f"apps/{app}/debian-packages.lock is missing at {source.revision[:10]}")
    try:
        debian.make_base(lock, folder, repo.local_dir / "images" / "debs")
    except debian.DebianError as exc:
        raise RefusedError(
            str(exc), hint="a version no longer served needs a new lock (docs/images.md)"
        ) from None


# --- orders: a static Go binary ----------------------------------------------------------------------


def go_toolchain(dockerfile: Path) -> str:
    """The Go version of the Dockerfile's build stage: both ways compile with the same toolchain."""
    match = re.search(r"^FROM golang:(\d+\.\d+\.\d+)\S* AS build", dockerfile.read_text(), re.MULTILINE)
    if match is None:
        raise InputError(f"{dockerfile}: no `FROM golang:X.Y.Z… AS build` line to take the Go version from")
    return "go" + match.group(1)


def _orders(repo: Repo, source: Source, request: Request, work: Path) -> Layers:
    app_dir = source.root / "apps" / "orders"
    base, top = work / "base", work / "app"
    _base(repo, source, "orders", base)
    top.mkdir()
    ldflags = f"-s -w -X main.version={request.version} -X main.revision={source.revision}"
    env = {
        **toolchain.tool_env(repo),
        "CGO_ENABLED": "0",
        "GOOS": "linux",
        "GOARCH": "amd64",
        "GOAMD64": "v1",
        "GOFLAGS": "",
        "GOTOOLCHAIN": go_toolchain(app_dir / "Dockerfile"),
    }
    command = ["go", "build", "-mod=readonly", "-trimpath", "-buildvcs=false", f"-ldflags={ldflags}"]
    _run([*command, "-o", str(top / "orders"), "./cmd/orders"], app_dir, env, "go build of orders")
    return Layers(
        folders=[(base, "Debian ca-certificates, accounts"), (top, "orders")],
        config={
            "user": USER,
            "entrypoint": ["/orders"],
            "env": [f"PATH={PATH}"],
            "workingDir": "/",
            "exposedPorts": PORTS,
            "labels": labels(source, request),
        },
    )


# --- inventory: Debian's Python, the locked wheels, the package --------------------------------------


def _inventory(repo: Repo, source: Source, request: Request, work: Path) -> Layers:
    base, site, top = work / "base", work / "site" / "opt" / "app", work / "app" / "opt" / "app"
    _base(repo, source, "inventory", base)
    uv = toolchain.require_tool(repo, "uv")
    requirements = work / "requirements.txt"
    env = toolchain.tool_env(repo)
    _run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--package",
            "meridian-inventory",
            "--no-emit-workspace",
            "--format",
            "requirements-txt",
            "--no-header",
            "--output-file",
            str(requirements),
        ],
        source.root,
        env,
        "uv export",
    )
    _run(
        [
            uv,
            "pip",
            "install",
            "--target",
            str(site),
            "--python-platform",
            "x86_64-manylinux_2_36",
            "--python-version",
            "3.11",
            "--no-deps",
            "--require-hashes",
            "--only-binary",
            ":all:",
            "--no-compile",
            "--no-progress",
            "-r",
            str(requirements),
        ],
        source.root,
        env,
        "uv pip install",
    )
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts with this machine's paths
    package = source.root / "apps/inventory/src/meridian_inventory"
    shutil.copytree(
        package, top / "meridian_inventory", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return Layers(
        folders=[
            (base, "Debian python3.11, its libraries, ca-certificates, accounts"),
            (work / "site", "locked Python packages (uv.lock)"),
            (work / "app", "meridian_inventory"),
        ],
        config={
            "user": USER,
            "entrypoint": ["/usr/bin/python3.11", "-m", "meridian_inventory"],
            "env": [
                f"PATH={PATH}",
                "PYTHONPATH=/opt/app",
                "PYTHONDONTWRITEBYTECODE=1",
                "PYTHONUNBUFFERED=1",
                f"APP_REVISION={source.revision}",
            ],
            "workingDir": "/",
            "exposedPorts": PORTS,
            "labels": labels(source, request),
        },
    )


RECIPES: dict[str, Callable[[Repo, Source, Request, Path], Layers]] = {
    "orders": _orders,
    "inventory": _inventory,
}


def _run(command: list[str], cwd: Path, env: dict[str, str], what: str) -> None:
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RefusedError(f"{what} failed: {(proc.stderr or proc.stdout).strip()[-800:]}")


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    """Folders made while building get the same modes on every machine."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)
