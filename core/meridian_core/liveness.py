"""Is the process that left a lock behind still running? Only a process of this host can be asked."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


def process_alive(pid: int, host: str) -> bool:
    """True unless the process is known to be gone: another host's process counts as alive."""
    if pid <= 0:
        return False
    if host != socket.gethostname():
        return True  # cannot tell from here: assume it still runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: a process of a host, since when, doing what."""

    pid: int
    host: str
    since: str
    what: str

    def alive(self) -> bool:
        """A lock is stale when its process is gone; only a lock from this host can be checked."""
        return process_alive(self.pid, self.host)

    def __str__(self) -> str:
        return f"{self.what} (pid {self.pid} on {self.host}, since {self.since})"
