"""Install the tool groups a command needs, reusing any tool already present at its pinned version.

For each group, in manifest order: every member is probed the way `meridian doctor` probes it. A
member that is missing from bin/ but found at its pinned version elsewhere (`MERIDIAN_TOOL_<NAME>`,
or PATH) is linked into bin/, where every command and test looks for it, and is not built. The
group's install command runs only when a member is still missing or wrong, or its pin files changed
since the last build here; its output goes to `.meridian/logs/tools-<group>.log`, and the terminal
gets one progress line at a time with the cold-machine estimate recorded in tools.toml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from meridian_core.errors import RefusedError
from meridian_core.layout import Repo

from meridian import console
from meridian.toolchain import (
    TOOLS_PLACEHOLDER,
    Group,
    Manifest,
    Tool,
    ToolStatus,
    group_fingerprint,
    on_search_path,
    probe,
    tool_env,
)

Say = Callable[[str], None]

# Lines that say nothing about progress: the module downloads of a cold Go build.
_NOISE = ("go: downloading", "go: finding", "go: extracting")


@dataclass
class InstallReport:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    linked: dict[str, str] = field(default_factory=dict)  # tool -> the existing build it uses
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    build: list[Tool]  # members that must be built (all members for groups that build as a whole)
    linked: dict[str, str]
    warnings: list[str]


def install(
    repo: Repo,
    manifest: Manifest,
    groups: list[str] | None = None,
    *,
    say: Say | None = None,
    tick: float = 30.0,
) -> InstallReport:
    """Install `groups` (default: all); a second run with nothing changed does nothing."""
    say = say or (lambda _line: None)
    names = groups if groups is not None else list(manifest.groups)
    report = InstallReport()
    stamps = repo.local_dir / "stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names, 1):
        group = manifest.groups[name]
        label = f"[{index}/{len(names)}] {name}"
        plan = _plan(repo, manifest, group)
        report.linked.update(plan.linked)
        report.warnings.extend(plan.warnings)
        for tool, location in plan.linked.items():
            say(f"{label}: using {location} for {tool} (the pinned version; not built)")
        for warning in plan.warnings:
            say(f"{label}: {warning}")
        if not plan.build:
            report.skipped.append(name)
            say(f"{label}: up to date")
            continue
        _build(repo, group, plan.build, label=label, say=say, tick=tick)
        _verify(repo, manifest, group, repo.local_dir / "logs" / f"tools-{name}.log")
        (stamps / name).write_text(group_fingerprint(repo, group))
        report.ran.append(name)
    return report


def _plan(repo: Repo, manifest: Manifest, group: Group) -> _Plan:
    members = [t for t in manifest.members(group.name) if t.required]
    statuses = {t.name: probe(repo, t) for t in members}
    wrong = [t for t in members if not statuses[t.name].ok]
    if not group.install and not group.apt:
        # Nothing here can install these (Python, Go, git): say what is missing and how to get it.
        missing = [f"{t.name} ({statuses[t.name].problem})" for t in wrong if statuses[t.name].found is None]
        if missing:
            raise RefusedError(f"{group.name}: not installed: {', '.join(missing)}", hint=group.hint)
        return _Plan([], {}, [f"{t.name}: {statuses[t.name].problem}" for t in wrong])
    if not group.install:
        # apt installs packages, not versions: a package present at another version stays a warning.
        absent = [t for t in wrong if statuses[t.name].found is None]
        warnings = [f"{t.name}: {statuses[t.name].problem}" for t in wrong if t not in absent]
        return _Plan(absent, {}, warnings)
    # Found at its pin outside bin/ (PATH, or the user's override), or found nowhere good but at its
    # pin elsewhere: either way bin/ gets a link to that build.
    existing = {
        t.name: str(Path(statuses[t.name].location or "").absolute())
        for t in members
        if statuses[t.name].ok and Path(statuses[t.name].location or "").parent != repo.bin_dir
    }
    existing |= {t.name: found for t in wrong if (found := _existing_build(repo, t, statuses[t.name]))}
    build = [t for t in wrong if t.name not in existing]
    stamp = repo.local_dir / "stamps" / group.name
    if not (stamp.is_file() and stamp.read_text() == group_fingerprint(repo, group)):
        # The pins or the build script changed: what was built here is rebuilt; existing builds
        # of the pinned versions elsewhere are still fine as they are.
        build += [t for t in members if t not in build and t.name not in existing and _built_in_bin(repo, t)]
    if build and not group.builds_by_name:
        return _Plan(members, {}, [])  # its install command builds the whole group
    for name, found in existing.items():
        _link(repo, name, found)
    return _Plan(build, existing, [])


def _existing_build(repo: Repo, tool: Tool, status: ToolStatus) -> str | None:
    """A build of the tool outside bin/ at its pinned version: the user's override, or one on PATH."""
    candidates = [os.environ.get(tool.override_var), on_search_path(repo, tool)]
    for candidate in candidates:
        if not candidate or candidate == status.location:
            continue
        if probe(repo, tool, candidate).ok:
            return str(Path(candidate).absolute())
    return None


def _built_in_bin(repo: Repo, tool: Tool) -> bool:
    path = repo.bin_dir / tool.name
    return path.is_file() and not path.is_symlink()


def _link(repo: Repo, name: str, target: str) -> None:
    """bin/<name> -> target, so everything that runs bin/<name> runs the existing build."""
    repo.bin_dir.mkdir(parents=True, exist_ok=True)
    link = repo.bin_dir / name
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def _build(repo: Repo, group: Group, build: list[Tool], *, label: str, say: Say, tick: float) -> None:
    log = repo.local_dir / "logs" / f"tools-{group.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    for tool in build:
        # Never let an install write through a link into the user's own build.
        if (repo.bin_dir / tool.name).is_symlink():
            (repo.bin_dir / tool.name).unlink()
    names = ", ".join(t.name for t in build)
    say(f"{label}: building {names}: {_estimate(group)} (log: {_shown(repo, log)})")
    start = time.monotonic()
    if group.apt:
        _install_apt(repo, group, log, label=label, say=say, tick=tick)
    if group.install:
        command = _expand(group.install, [t.name for t in build])
        _run_logged(repo, command, log, label=label, say=say, tick=tick, hint=group.hint)
    seconds = time.monotonic() - start
    say(f"{label}: done in {_clock(seconds)}")


def _expand(install: tuple[str, ...], names: list[str]) -> list[str]:
    command: list[str] = []
    for word in install:
        command.extend(names if word == TOOLS_PLACEHOLDER else [word])
    return command


def _run_logged(
    repo: Repo, command: list[str], log: Path, *, label: str, say: Say, tick: float, hint: str
) -> None:
    with log.open("a") as sink:
        sink.write(f"$ {' '.join(command)}\n")
        sink.flush()
        console.command(command, repo.root)
        proc = subprocess.Popen(command, cwd=repo.root, env=tool_env(repo), stdout=sink, stderr=sink)
        start = time.monotonic()
        try:
            while True:
                try:
                    code = proc.wait(timeout=tick)
                    break
                except subprocess.TimeoutExpired:
                    last = _last_line(log)
                    say(f"{label}: {_clock(time.monotonic() - start)} so far" + (f"; {last}" if last else ""))
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        where = _shown(repo, log)
        raise RefusedError(
            f"{label}: `{' '.join(command)}` failed (exit {code}); the last lines of {where}:\n{tail}",
            hint=hint,
        )


def _last_line(log: Path) -> str:
    with log.open("rb") as f:
        f.seek(max(0, log.stat().st_size - 8192))
        lines = f.read().decode(errors="replace").splitlines()
    for line in reversed(lines):
        if line.strip() and not line.startswith(_NOISE):
            return line.strip()[:120]
    return ""


def _install_apt(repo: Repo, group: Group, log: Path, *, label: str, say: Say, tick: float) -> None:
    missing = [pkg for pkg in group.apt if not _dpkg_installed(pkg)]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    prefix = ["env", "DEBIAN_FRONTEND=noninteractive"]
    if os.geteuid() != 0:
        # CI runners (and many workstations) allow sudo without a password; never prompt for one.
        sudo = shutil.which("sudo")
        if sudo is None or subprocess.run([sudo, "-n", "true"], capture_output=True, check=False).returncode:
            raise RefusedError(
                f"Debian packages missing: {' '.join(missing)}",
                hint=f"run `sudo apt-get update && sudo {' '.join(command)}`, then this command again",
            )
        prefix = [sudo, "-n", *prefix]
        say(f"{label}: installing Debian packages with sudo: {' '.join(missing)}")
    for step in (["apt-get", "update", "-qq"], command):
        _run_logged(repo, [*prefix, *step], log, label=label, say=say, tick=tick, hint=group.hint)


def _dpkg_installed(package: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and "install ok installed" in proc.stdout


def _verify(repo: Repo, manifest: Manifest, group: Group, log: Path) -> None:
    """After an install, every required member must be there at its pin: an install that 'worked'
    but left a tool missing or at another version is a failure, not a later surprise."""
    statuses = [probe(repo, t) for t in manifest.members(group.name) if t.required]
    # For apt packages only presence counts (see _plan); built tools must match their pins.
    wrong = [s for s in statuses if (s.found is None if not group.install else not s.ok)]
    if wrong:
        details = ", ".join(f"{s.tool.name}: {s.problem}" for s in wrong)
        raise RefusedError(
            f"{group.name}: installed, but {details} (log: {_shown(repo, log)})", hint=group.hint
        )


def _estimate(group: Group) -> str:
    if group.cold_seconds is None:
        return "no cold-build time recorded"
    return f"about {_clock(group.cold_seconds)} on a cold 2-core machine, far less with a warm Go build cache"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _shown(repo: Repo, path: Path) -> str:
    try:
        return str(path.relative_to(repo.root))
    except ValueError:
        return str(path)
