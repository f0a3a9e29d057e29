"""Is a loopback port free, and if not, which process holds it (from /proc, no extra tools)."""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from meridian.cluster.procs import command_line

_TCP_LISTEN = "0A"
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# The lowest base a cluster beside the default one is given: above the well-known and the
# defaults' ports (16257-23800).
_LOWEST_BASE = 24000


@dataclass(frozen=True)
class Holder:
    pid: int
    argv: list[str]

    cwd: str

    def describe(self) -> str:
        # The working folder tells which checkout's cluster it is: components run in their state folder.
        program = self.argv[0] if self.argv else "command line unreadable"
        return f"pid {self.pid} ({program}, working folder {self.cwd or 'unknown'})"


def is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:port now.

    SO_REUSEADDR as Go's listeners set it: connections of a just-stopped server lingering in
    TIME_WAIT do not make the port busy, only a listener does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def holder(port: int) -> Holder | None:
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = _readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return Holder(int(proc.name), command_line(int(proc.name)), _readlink(proc / "cwd"))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            # local_address is HEXIP:HEXPORT; st 0A is LISTEN; inode is the tenth column
            if len(fields) > 9 and fields[3] == _TCP_LISTEN and int(fields[1].split(":")[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _readlink(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""


def ephemeral_start() -> int:
    """The first port the kernel hands out to outgoing connections (Linux's default: 32768)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_base(ports_of: Callable[[int], Iterable[int]], step: int) -> int:
    """A port base whose ports (`ports_of(base)`) are all free now, for a cluster run beside the
    default one (tests, benchmarks).

    Bases are drawn below the ephemeral range: a port there can be taken at any moment by some
    process's outgoing connection, which would then hold a port the cluster thinks is its own.
    """
    rng = random.SystemRandom()
    top = ephemeral_start() - max(ports_of(0)) - 1
    for _ in range(400):
        base = rng.randrange(_LOWEST_BASE, top, step)
        if all(is_free(port) for port in ports_of(base)):
            return base
    raise RuntimeError(f"no free run of ports found between {_LOWEST_BASE} and {top}")
