"""The tools this repository needs, where each is pinned, and what version is installed.

`tools/tools.toml` is the one list; `meridian doctor` reports on it and `meridian tools install`
installs from it, so the two can never disagree about what "all the tools" means.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from meridian.errors import InputError, RefusedError
from meridian.paths import Repo

_VERSION = re.compile(r"v?(\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?)")


@dataclass(frozen=True)
class Tool:
    name: str
    purpose: str
    group: str
    version_cmd: tuple[str, ...]
    required: bool
    pin: str | None  # a literal pin, or None when it is read from `gomod`/`lock`
    module: str | None
    gomod: str | None
    lock_package: str | None
    path: str | None  # absolute path for tools outside PATH (e.g. Debian's PostgreSQL binaries)
    buildinfo: bool  # read the version from the Go binary's embedded module info, not its output


@dataclass(frozen=True)
class Group:
    """Tools installed together by one command, re-run only when its pin files change."""

    name: str
    install: tuple[str, ...]
    pins: tuple[str, ...]
    hint: str
    apt: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    groups: dict[str, Group]
    tools: tuple[Tool, ...]


@dataclass(frozen=True)
class ToolStatus:
    tool: Tool
    pinned: str | None
    found: str | None
    location: str | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.found is not None and self.problem is None


@dataclass
class InstallReport:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def load_manifest(repo: Repo) -> Manifest:
    path = repo.tools_dir / "tools.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read the tool manifest: {exc}") from exc
    groups = {
        name: Group(
            name=name,
            install=tuple(spec.get("install", ())),
            pins=tuple(spec.get("pins", ())),
            hint=spec["hint"],
            apt=tuple(spec.get("apt", ())),
        )
        for name, spec in data["group"].items()
    }
    tools = []
    for spec in data["tool"]:
        if spec["group"] not in groups:
            raise InputError(f"{path}: tool {spec['name']!r} names unknown group {spec['group']!r}")
        tools.append(
            Tool(
                name=spec["name"],
                purpose=spec["purpose"],
                group=spec["group"],
                version_cmd=tuple(spec.get("version", [spec["name"], "--version"])),
                required=spec.get("required", True),
                pin=spec.get("pin"),
                module=spec.get("module"),
                gomod=spec.get("gomod"),
                lock_package=spec.get("lock_package"),
                path=spec.get("path"),
                buildinfo=spec.get("buildinfo", False),
            )
        )
    return Manifest(groups=groups, tools=tuple(tools))


def tool_env(repo: Repo) -> dict[str, str]:
    """The environment every tool runs in: the repository's own tool folders first on PATH."""
    env = dict(os.environ)
    own = [repo.bin_dir, repo.root / ".venv" / "bin", repo.local_dir / "uv" / "bin"]
    env["PATH"] = os.pathsep.join([*map(str, own), env.get("PATH", "")])
    return env


def which(repo: Repo, name: str) -> str | None:
    return shutil.which(name, path=tool_env(repo)["PATH"])


def require_tool(repo: Repo, name: str) -> str:
    """Absolute path of a tool, or a refusal that says how to install it."""
    found = which(repo, name)
    if found is None:
        raise RefusedError(f"{name} is not installed", hint="run `make tools` (then `meridian doctor`)")
    return found


def pinned_version(repo: Repo, tool: Tool) -> str | None:
    if tool.pin is not None:
        return tool.pin
    if tool.module and tool.gomod:
        return _gomod_version(repo.root / tool.gomod, tool.module)
    if tool.lock_package:
        return _uv_lock_version(repo.root / "uv.lock", tool.lock_package)
    return None


def _gomod_version(gomod: Path, module: str) -> str | None:
    pattern = re.compile(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", re.MULTILINE)
    match = pattern.search(gomod.read_text()) if gomod.is_file() else None
    return match.group(1).lstrip("v") if match else None


def _uv_lock_version(lock: Path, package: str) -> str | None:
    if not lock.is_file():
        return None
    for entry in tomllib.loads(lock.read_text()).get("package", []):
        if entry.get("name") == package:
            return str(entry.get("version"))
    return None


def probe(repo: Repo, tool: Tool) -> ToolStatus:
    pinned = pinned_version(repo, tool)
    location = tool.path if tool.path and Path(tool.path).exists() else which(repo, tool.version_cmd[0])
    if location is None:
        return ToolStatus(tool, pinned, None, None, "not installed")
    # Many Go tools print "devel" unless built by their own release scripts; the module version
    # the Go toolchain embedded is the one our go.mod pinned.
    command = ["go", "version", "-m", location] if tool.buildinfo else [location, *tool.version_cmd[1:]]
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=180,  # checkov alone needs over a minute on a loaded machine
            env=tool_env(repo),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ToolStatus(tool, pinned, None, location, f"does not run: {exc}")
    text = proc.stdout + proc.stderr
    if tool.buildinfo and tool.module:
        text = _buildinfo_line(text, tool.module)
    match = _VERSION.search(text)
    if match is None:
        return ToolStatus(tool, pinned, None, location, "prints no version")
    found = match.group(1)
    problem = None
    if pinned and not _same_version(found, pinned):
        problem = f"pinned {pinned}, found {found}"
    return ToolStatus(tool, pinned, found, location, problem)


def _buildinfo_line(text: str, module: str) -> str:
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] in ("mod", "dep") and fields[1] == module:
            return fields[2]
    return ""


def _same_version(found: str, pinned: str) -> bool:
    """A pin may be a prefix (`15` for PostgreSQL 15.x) or a full version."""
    return found == pinned or found.startswith(pinned + ".") or found.startswith(pinned + "-")


def group_fingerprint(repo: Repo, group: Group) -> str:
    digest = hashlib.sha256()
    digest.update("\0".join(group.install + group.apt).encode())
    for pin in group.pins:
        path = repo.root / pin
        digest.update(pin.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def install(repo: Repo, manifest: Manifest, only: set[str] | None = None) -> InstallReport:
    """Install every group whose pins changed or whose tools are missing; otherwise do nothing."""
    report = InstallReport()
    stamps = repo.local_dir / "stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    for group in manifest.groups.values():
        if only is not None and group.name not in only:
            continue
        members = [t for t in manifest.tools if t.group == group.name]
        stamp = stamps / group.name
        fingerprint = group_fingerprint(repo, group)
        present = all(probe(repo, t).found is not None for t in members if t.required)
        if present and stamp.is_file() and stamp.read_text() == fingerprint:
            report.skipped.append(group.name)
            continue
        if group.apt:
            _install_apt(group)
        if group.install:
            proc = subprocess.run(list(group.install), cwd=repo.root, env=tool_env(repo), check=False)
            if proc.returncode != 0:
                raise RefusedError(
                    f"installing {group.name} failed (exit {proc.returncode}): {' '.join(group.install)}",
                    hint=group.hint,
                )
        stamp.write_text(fingerprint)
        report.ran.append(group.name)
    return report


def _install_apt(group: Group) -> None:
    missing = [pkg for pkg in group.apt if not _dpkg_installed(pkg)]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        raise RefusedError(
            f"Debian packages missing: {' '.join(missing)}",
            hint=f"run `sudo apt-get update && sudo {' '.join(command)}`, then `make tools` again",
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (["apt-get", "update", "-qq"], command):
        if subprocess.run(step, env=env, check=False).returncode != 0:
            raise RefusedError(f"`{' '.join(step)}` failed", hint=group.hint)


def _dpkg_installed(package: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and "install ok installed" in proc.stdout
