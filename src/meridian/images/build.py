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
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meridian_core.errors import InputError, RefusedError
from meridian_core.git import Git
from meridian_core.layout import Repo, app_path
from meridian_core.snapshot import Revision

from meridian import toolchain
from meridian.images import debian, registry

APPS = ("orders", "inventory")
USER = "65532:65532"  # numeric, so Kubernetes' runAsNonRoot can check it
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PORTS = ["50051/tcp", "9090/tcp"]
WORKING_DIR = "/"
WORKSPACE_FILES = ("pyproject.toml", "uv.lock", "infra/pyproject.toml")  # read beside apps/APP

# What each image is, apart from how its files are made: the Dockerfiles declare the same (a test
# parses them). Layers are folders, bottom first: (name, history comment); paths are inside a layer.
LAYERS: dict[str, tuple[tuple[str, str], ...]] = {
    "orders": (("base", "Debian ca-certificates, accounts"), ("app", "orders")),
    "inventory": (
        ("base", "Debian python3.11, its libraries, ca-certificates, accounts"),
        ("site", "locked Python packages (uv.lock)"),
        ("app", "meridian_inventory"),
    ),
}
ENTRYPOINTS = {"orders": ["/orders"], "inventory": ["/usr/bin/python3.11", "-m", "meridian_inventory"]}
ORDERS_BINARY = "orders"  # in the app layer
ORDERS_PACKAGE = "./cmd/orders"
GO_ENV = {"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v1", "GOFLAGS": ""}
SITE_PACKAGES = "opt/app"  # in the site layer: the locked wheels, without their console scripts (bin/)
INVENTORY_SOURCE = f"{app_path('inventory')}/src/meridian_inventory"
INVENTORY_PACKAGE = "opt/app/meridian_inventory"  # in the app layer


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
    snapshot.export(app_path(app), dest / app_path(app))
    for rel in WORKSPACE_FILES:
        data = snapshot.read(rel)
        if data is not None:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes(data)
    epoch = int(git.run("log", "-1", "--format=%ct", snapshot.sha).strip())
    return Source(dest, snapshot.sha, epoch)


def build_and_push(repo: Repo, source: Source, request: Request, ref: str) -> registry.Pushed:
    """Build `request.app` from `source` and push it as `ref` (registry/repository:tag)."""
    with _spec(repo, source, request) as spec:
        return registry.push(repo, spec, ref)


def build_layout(repo: Repo, source: Source, request: Request, folder: Path) -> str:
    """Build `request.app` from `source` into an OCI image layout in `folder`: the image's digest."""
    with _spec(repo, source, request) as spec:
        return registry.layout(repo, spec, folder)


@contextmanager
def _spec(repo: Repo, source: Source, request: Request) -> Iterator[Path]:
    """The layers' folders and the spec meridian-image builds the image from."""
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
        yield spec_path


def labels(source: Source, request: Request) -> dict[str, str]:
    return {
        "org.opencontainers.image.source": request.source_label,
        "org.opencontainers.image.revision": source.revision,
        "org.opencontainers.image.version": request.version,
        "org.opencontainers.image.title": request.app,
    }


def image_config(source: Source, request: Request) -> dict[str, Any]:
    """The image's config: user, entrypoint, environment, working directory, ports, labels."""
    env = [f"PATH={PATH}"]
    if request.app == "inventory":
        env += [
            "PYTHONPATH=/" + SITE_PACKAGES,
            "PYTHONDONTWRITEBYTECODE=1",
            "PYTHONUNBUFFERED=1",
            f"APP_REVISION={source.revision}",
        ]
    return {
        "user": USER,
        "entrypoint": ENTRYPOINTS[request.app],
        "env": env,
        "workingDir": WORKING_DIR,
        "exposedPorts": PORTS,
        "labels": labels(source, request),
    }


def _layers(work: Path, request: Request) -> list[tuple[Path, str]]:
    return [(work / name, comment) for name, comment in LAYERS[request.app]]


# --- the layer both images share ----------------------------------------------------------------


def _base(repo: Repo, source: Source, app: str, folder: Path) -> None:
    """Debian's files from the app's lock, the accounts, the CA bundle, /tmp (debian.make_base)."""
    lock_path = f"{app_path(app)}/debian-packages.lock"
    lock = source.root / lock_path
    if not lock.is_file():
        raise InputError(f"{lock_path} is missing at {source.revision[:10]}")
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


def go_build_command(version: str, revision: str, output: str) -> list[str]:
    """`go build` of orders, run in apps/orders with GO_ENV: static, trimmed, version in ldflags."""
    ldflags = f"-s -w -X main.version={version} -X main.revision={revision}"
    command = ["go", "build", "-mod=readonly", "-trimpath", "-buildvcs=false", f"-ldflags={ldflags}"]
    return [*command, "-o", output, ORDERS_PACKAGE]


def _orders(repo: Repo, source: Source, request: Request, work: Path) -> Layers:
    app_dir = source.root / app_path("orders")
    (base, _), (top, _) = folders = _layers(work, request)
    _base(repo, source, "orders", base)
    top.mkdir()
    env = {**toolchain.tool_env(repo), **GO_ENV, "GOTOOLCHAIN": go_toolchain(app_dir / "Dockerfile")}
    command = go_build_command(request.version, source.revision, str(top / ORDERS_BINARY))
    _run(command, app_dir, env, "go build of orders")
    return Layers(folders=folders, config=image_config(source, request))


# --- inventory: Debian's Python, the locked wheels, the package --------------------------------------


def uv_export_command(uv: str, requirements: str) -> list[str]:
    """The inventory's locked third-party packages as a requirements file, hashes included."""
    return [
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
        requirements,
    ]


def uv_install_command(uv: str, target: str, requirements: str) -> list[str]:
    """Their wheels for Debian's Python 3.11, unpacked into `target`: no build, no bytecode."""
    return [
        uv,
        "pip",
        "install",
        "--target",
        target,
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
        requirements,
    ]


def _inventory(repo: Repo, source: Source, request: Request, work: Path) -> Layers:
    folders = _layers(work, request)
    (base, _), (site_layer, _), (app_layer, _) = folders
    site = site_layer / SITE_PACKAGES
    _base(repo, source, "inventory", base)
    uv = toolchain.require_tool(repo, "uv")
    requirements = str(work / "requirements.txt")
    env = toolchain.tool_env(repo)
    _run(uv_export_command(uv, requirements), source.root, env, "uv export")
    _run(uv_install_command(uv, str(site), requirements), source.root, env, "uv pip install")
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts with this machine's paths
    shutil.copytree(
        source.root / INVENTORY_SOURCE,
        app_layer / INVENTORY_PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return Layers(folders=folders, config=image_config(source, request))


RECIPES: dict[str, Callable[[Repo, Source, Request, Path], Layers]] = {
    "orders": _orders,
    "inventory": _inventory,
}


def _run(command: list[str], cwd: Path, env: dict[str, str], what: str) -> None:
    proc = toolchain.run(command, env=env, cwd=cwd)
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
