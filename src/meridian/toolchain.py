"""The tools this repository needs, where each is pinned, and what version is installed.

`tools/tools.toml` is the one list; `meridian doctor` reports on it and `meridian tools install`
installs from it (`meridian.tool_install`), so the two can never disagree about what a tool is, which
version counts, or where it was found. A tool is looked for, in order, at the path the user gives in
`MERIDIAN_TOOL_<NAME>`, in the repository's own folders (bin/, .venv), then on PATH.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from meridian_core.errors import InputError, RefusedError
from meridian_core.layout import Repo

from meridian import console

_VERSION = re.compile(r"v?(\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?)")
# `{tools}` in a group's install command stands for the names of the members it must build, so a
# member already found at its pinned version is not built again.
TOOLS_PLACEHOLDER = "{tools}"


@dataclass(frozen=True)
class Tool:
    """One pinned tool of tools/tools.toml: how to find it, check its version and build it."""

    name: str
    purpose: str
    group: str
    version_cmd: tuple[str, ...]
    required: bool
    pin: str | None  # a literal pin, or None when it is read from `gomod`/`lock`
    module: str | None
    gomod: str | None
    lock_package: str | None
    path: str | None  # absolute path (or glob) for tools outside PATH, e.g. Debian's PostgreSQL
    buildinfo: bool  # read the version from the Go binary's embedded module info, not its output
    at_least: str | None = None  # a lowest version instead of a pin (PostgreSQL: whatever apt ships)
    dist: str | None = None  # read the version from this Python distribution next to the binary

    @property
    def override_var(self) -> str:
        return override_var(self.name)


@dataclass(frozen=True)
class Group:
    """Tools installed together by one command, re-run only when its pin files change."""

    name: str
    install: tuple[str, ...]
    pins: tuple[str, ...]
    hint: str
    apt: tuple[str, ...] = ()
    cold_seconds: int | None = None  # measured first build on a 2-core machine, for the estimate

    @property
    def builds_by_name(self) -> bool:
        return TOOLS_PLACEHOLDER in self.install


@dataclass(frozen=True)
class Manifest:
    groups: dict[str, Group]
    tools: tuple[Tool, ...]
    needs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # command -> groups it needs

    def members(self, group: str) -> list[Tool]:
        return [t for t in self.tools if t.group == group]

    def group_of(self, tool_name: str) -> str | None:
        return next((t.group for t in self.tools if t.name == tool_name), None)

    def select(self, groups: list[str] | None = None, commands: list[str] | None = None) -> list[str]:
        """Groups named by `--group` and needed by `--for`, in manifest order; all when both are empty."""
        if unknown := set(groups or ()) - self.groups.keys():
            raise InputError(
                f"unknown tool group(s): {', '.join(sorted(unknown))}",
                hint=f"groups are: {', '.join(self.groups)}",
            )
        if unknown := set(commands or ()) - self.needs.keys():
            raise InputError(
                f"no tool needs recorded for: {', '.join(sorted(unknown))}",
                hint=f"`--for` takes one of: {', '.join(self.needs)} (tools/tools.toml [needs])",
            )
        if not groups and not commands:
            return list(self.groups)
        wanted = set(groups or ()).union(*(self.needs[c] for c in commands or ()))
        return [name for name in self.groups if name in wanted]


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
            cold_seconds=spec.get("cold_seconds"),
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
                at_least=spec.get("at_least"),
                dist=spec.get("dist"),
            )
        )
    needs = {command: tuple(names) for command, names in data.get("needs", {}).items()}
    for command, names in needs.items():
        if unknown := [n for n in names if n not in groups]:
            raise InputError(f"{path}: needs.{command} names unknown group(s): {', '.join(unknown)}")
    return Manifest(groups=groups, tools=tuple(tools), needs=needs)


def own_dirs(repo: Repo) -> list[Path]:
    """The repository's own tool folders, searched before PATH."""
    return [repo.bin_dir, repo.root / ".venv" / "bin", repo.local_dir / "uv" / "bin"]


def tool_env(repo: Repo) -> dict[str, str]:
    """The environment every tool runs in: the repository's own tool folders first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*map(str, own_dirs(repo)), env.get("PATH", "")])
    return env


def run(
    command: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a tool to its end, its output captured as text; `--verbose` shows the command line first.
    The exit code is the caller's to judge; a timeout raises subprocess.TimeoutExpired."""
    console.command(command, cwd)
    return subprocess.run(
        list(map(str, command)),
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def override_var(name: str) -> str:
    """The environment variable a user sets to the path of their own build of a tool."""
    return "MERIDIAN_TOOL_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def which(repo: Repo, name: str) -> str | None:
    if override := os.environ.get(override_var(name)):
        return override if os.access(override, os.X_OK) else None
    return shutil.which(name, path=tool_env(repo)["PATH"])


def require_tool(repo: Repo, name: str) -> str:
    """Absolute path of a tool, or a refusal that says which group installs it."""
    found = which(repo, name)
    if found is None:
        raise RefusedError(f"{name} is not installed", hint=_install_hint(repo, name))
    return found


def _install_hint(repo: Repo, name: str) -> str:
    try:
        group = load_manifest(repo).group_of(name)
    except InputError:
        group = None
    if group is None:
        return "run `make tools` (then `meridian doctor`)"
    return f"run `meridian tools install --group {group}` (or `make tools` for every group)"


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


def locate(repo: Repo, tool: Tool) -> str | None:
    """Where the tool is: the user's override, its fixed path, or the search path."""
    if override := os.environ.get(tool.override_var):
        return override if os.access(override, os.X_OK) else None
    if tool.path:
        # A glob picks the highest version installed (/usr/lib/postgresql/*/bin/postgres).
        found = sorted(glob.glob(tool.path), key=_version_key)
        if found:
            return found[-1]
    return which(repo, tool.version_cmd[0])


def on_search_path(repo: Repo, tool: Tool) -> str | None:
    """The tool on PATH outside the repository's own folders (a build the user already has)."""
    own = {str(d) for d in own_dirs(repo)}
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if d and d not in own)
    return shutil.which(tool.version_cmd[0], path=path)


def probe(repo: Repo, tool: Tool, location: str | None = None) -> ToolStatus:
    """The version of the tool at `location` (default: where `locate` finds it) against its pin."""
    pinned = pinned_version(repo, tool)
    location = location or locate(repo, tool)
    if location is None:
        return ToolStatus(tool, pinned, None, None, "not installed")
    try:
        found = _found_version(repo, tool, location)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ToolStatus(tool, pinned, None, location, f"does not run: {exc}")
    if found is None:
        return ToolStatus(tool, pinned, None, location, "prints no version")
    problem = None
    if pinned and not _same_version(found, pinned):
        problem = f"pinned {pinned}, found {found}"
    elif tool.at_least and _version_key(found) < _version_key(tool.at_least):
        problem = f"needs {tool.at_least} or later, found {found}"
    return ToolStatus(
        tool, pinned or (f">={tool.at_least}" if tool.at_least else None), found, location, problem
    )


def _found_version(repo: Repo, tool: Tool, location: str) -> str | None:
    if tool.buildinfo and tool.module:
        # Many Go tools print "devel" unless built by their own release scripts; the module version
        # the Go toolchain embedded is the one our go.mod pinned.
        text = _buildinfo_line(_output(repo, ["go", "version", "-m", location]), tool.module)
        if match := _VERSION.search(text):
            return match.group(1)
        # An official release binary embeds its own main module as "(devel)": ask the tool itself.
    if tool.dist:
        # Faster than `checkov --version` (over a minute on a loaded machine): the distribution's
        # metadata, read by the interpreter of the environment the tool's script runs in.
        python = Path(location).resolve().parent / "python"
        script = f"import importlib.metadata as m; print(m.version({tool.dist!r}))"
        text = _output(repo, [str(python), "-c", script])
    else:
        text = _output(repo, [location, *tool.version_cmd[1:]])
    match = _VERSION.search(text)
    return match.group(1) if match else None


def _output(repo: Repo, command: list[str]) -> str:
    proc = run(command, env=tool_env(repo), timeout=180)
    return proc.stdout + proc.stderr


def _buildinfo_line(text: str, module: str) -> str:
    for line in text.splitlines():
        fields = line.split()
        if (
            len(fields) >= 3
            and fields[0] in ("mod", "dep")
            and fields[1] == module
            and fields[2] != "(devel)"
        ):
            return fields[2]
    return ""


def _same_version(found: str, pinned: str) -> bool:
    """A pin may be a prefix (`3.11` for Python 3.11.x) or a full version."""
    return found == pinned or found.startswith(pinned + ".") or found.startswith(pinned + "-")


def _version_key(text: str) -> tuple[int, ...]:
    """Numeric parts of the first version in `text`, for ordering (`16` > `15.4`)."""
    match = re.search(r"\d+(?:\.\d+)*", text)
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def group_fingerprint(repo: Repo, group: Group) -> str:
    digest = hashlib.sha256()
    digest.update("\0".join(group.install + group.apt).encode())
    for pin in group.pins:
        path = repo.root / pin
        digest.update(pin.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()
