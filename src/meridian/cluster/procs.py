"""Detached processes with pid files: start, recognise, stop.

A component outlives the `meridian` command that started it, so it runs in a session of its own
(setsid) with its output in a log file. A pid alone is not proof of identity (pids are reused after
a crash or a reboot): a process counts as ours only if its command line names our state folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from meridian import console

_PROC = Path("/proc")
POLL_S = 0.1


def start_detached(
    argv: list[str], *, log: Path, pid_file: Path, env: Mapping[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():
        # Keep the previous run's log: after a crash and a restart it is the one that explains why.
        log.replace(log.with_name(log.name + ".1"))
    console.command(argv, cwd)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    return process


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def is_alive(pid: int) -> bool:
    """Running, and not a zombie: an exited child nobody reaped yet holds no port and does nothing."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state letter follows the command name, which is in parentheses and may contain spaces.
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def command_line(pid: int) -> list[str]:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_ours(pid: int, marker: str) -> bool:
    """`marker` is the state folder with a trailing slash, so /x/cluster never matches /x/cluster2."""
    return is_alive(pid) and any(marker in arg for arg in command_line(pid))


def find_ours(
    binaries: Iterable[str], marker: str, *, modules: Mapping[str, str] | None = None
) -> dict[int, str]:
    """Processes of these binaries started for `marker`'s cluster, even if their pid file is gone.

    A component written in Python shows the interpreter as its program: `modules` maps such a
    component's name to the module it runs (`python -m MODULE`), which identifies it instead.
    """
    names = {name: name for name in binaries}
    names.update({module: name for name, module in (modules or {}).items()})
    found: dict[int, str] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        argv = command_line(int(entry.name))
        name = names.get(program_name(argv)) if argv else None
        if name and is_ours(int(entry.name), marker):
            found[int(entry.name)] = name
    return found


def program_name(argv: list[str]) -> str:
    """What a command line runs: the executable's file name, or for `python -m MODULE`, MODULE."""
    program = Path(argv[0]).name
    if program.startswith("python") and len(argv) > 2 and argv[1] == "-m":
        return argv[2]
    return program


def stop(pids: Iterable[int], timeout_s: float) -> list[int]:
    """SIGTERM, wait up to timeout_s, then SIGKILL what is left; return the pids that needed it."""
    pending = [pid for pid in pids if is_alive(pid)]
    for pid in pending:
        _signal(pid, signal.SIGTERM)
    pending = _wait_gone(pending, timeout_s)
    for pid in pending:
        _signal(pid, signal.SIGKILL)
    # SIGKILL cannot be ignored; the wait only covers the kernel tearing the process down.
    _wait_gone(pending, 10.0)
    return pending


def _signal(pid: int, sig: signal.Signals) -> None:
    # Each component leads its own session: signal the group, so nothing it spawned stays behind.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    pending = list(pids)
    while pending:
        _reap(pending)
        pending = [pid for pid in pending if is_alive(pid)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    return pending


def _reap(pids: list[int]) -> None:
    """Collect the exit status of our own children, so they do not linger as zombies."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"
