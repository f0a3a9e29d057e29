"""Is a loopback port free, and if not, which process holds it (from /proc, no extra tools)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from meridian.cluster.procs import command_line

_TCP_LISTEN = "0A"


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
