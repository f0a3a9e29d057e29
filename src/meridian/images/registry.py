"""What a registry holds, asked through `meridian-image` (go-containerregistry), the same client
that pushes: digests, config files, flattened file systems. Credentials come from where docker
and podman keep them; the loopback registry of local runs needs none."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meridian_core.errors import ConflictError, RefusedError
from meridian_core.layout import Repo

from meridian import toolchain

TOOL = "meridian-image"
_TAKEN = 3  # meridian-image's exit code for "the tag already names another image"
_UNKNOWN = 4  # meridian-image's exit code for "the registry has no such image"


@dataclass(frozen=True)
class Pushed:
    ref: str  # registry/repository:tag
    digest: str  # sha256:…, as the registry reported it for the tag
    size: int  # bytes of compressed layers
    layers: tuple[str, ...]


def run(repo: Repo, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    tool = toolchain.require_tool(repo, TOOL)
    try:
        return toolchain.run([tool, *args], env=toolchain.tool_env(repo), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RefusedError(f"{TOOL} {args[0]} did not finish in {timeout:.0f} s") from None


def _failed(proc: subprocess.CompletedProcess[str]) -> RefusedError:
    return RefusedError(" ".join(proc.stderr.split())[:600] or f"{TOOL} exited {proc.returncode}")


def push(repo: Repo, spec: Path, ref: str) -> Pushed:
    """Build the spec's image and push it as `ref`, unless that tag already names another build."""
    proc = run(repo, "build", "-spec", str(spec), "-push", ref, "-immutable")
    if proc.returncode == _TAKEN:
        raise ConflictError(
            " ".join(proc.stderr.split())[:600], hint="release a new version: a released tag never moves"
        )
    if proc.returncode != 0:
        raise _failed(proc)
    out = json.loads(proc.stdout)
    return Pushed(out["ref"], out["digest"], int(out["size"]), tuple(out["layers"]))


def layout(repo: Repo, spec: Path, folder: Path) -> str:
    """Build the spec's image into an OCI image layout in `folder`, pushing nothing: its digest."""
    proc = run(repo, "build", "-spec", str(spec), "-layout", str(folder))
    if proc.returncode != 0:
        raise _failed(proc)
    found: str = json.loads(proc.stdout)["digest"]
    return found


def digest(repo: Repo, ref: str) -> str | None:
    """The digest the registry reports for `ref` (a tag or a digest), None when it has no such image."""
    proc = run(repo, "digest", ref, timeout=120)
    if proc.returncode == _UNKNOWN:
        return None
    if proc.returncode != 0:
        raise _failed(proc)
    return proc.stdout.strip()


def config(repo: Repo, ref: str) -> dict[str, Any]:
    proc = run(repo, "config", ref, timeout=120)
    if proc.returncode != 0:
        raise _failed(proc)
    parsed: dict[str, Any] = json.loads(proc.stdout)
    return parsed


def export(repo: Repo, ref: str, tar: Path) -> None:
    proc = run(repo, "export", ref, "-o", str(tar))
    if proc.returncode != 0:
        raise _failed(proc)
