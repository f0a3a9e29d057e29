"""Watch which addresses a set of processes talks to, for the duration of a block.

A background thread samples, every few tens of milliseconds, the sockets the watched processes
hold (their /proc/PID/fd) against the kernel's TCP and UDP tables (/proc/net/tcp, tcp6, udp,
udp6), and records every socket with a remote address: established connections, connects still
in SYN_SENT (a connect to an unroutable address stays there for seconds), and connected UDP
sockets (a DNS query). `offending()` is the part aimed anywhere but loopback.

    with watch_connections(cluster_processes(cluster)) as watch:
        ...  # run the commands under test
    watch.assert_loopback_only()

A connection opened and closed between two samples is not seen; the test that uses this should
also prove what it expects to have been seen (e.g. `watch.seen_programs()`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from meridian.cluster.procs import command_line, program_name
from support.local_cluster import ClusterUnderTest

_PROC = Path("/proc")
TABLES = ("tcp", "tcp6", "udp", "udp6")
# /proc/net/tcp's `st` column (include/net/tcp_states.h); UDP reuses 01 for a connected socket.
TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


@dataclass(frozen=True)
class Connection:
    pid: int
    program: str
    protocol: str  # tcp, tcp6, udp, udp6: the table it was found in
    local: str
    remote: str
    state: str

    @property
    def remote_host(self) -> str:
        return self.remote.rsplit(":", 1)[0].strip("[]")

    @property
    def on_loopback(self) -> bool:
        return is_loopback(self.remote_host)

    def __str__(self) -> str:
        return f"{self.program} (pid {self.pid}) {self.protocol} {self.local} -> {self.remote} {self.state}"


@dataclass(frozen=True)
class SocketRow:
    """One row of a kernel socket table, addresses decoded."""

    protocol: str
    local: str
    remote: str
    state: str
    inode: str


def decode_address(text: str) -> str:
    """`0100007F:1F90` → `127.0.0.1:8080`; IPv6 rows hold four 32-bit words, each in host order."""
    hex_ip, hex_port = text.split(":")
    raw = bytes.fromhex(hex_ip)
    # Each 32-bit word is stored in the machine's byte order (little-endian on x86 and arm64).
    swapped = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(swapped)
    port = int(hex_port, 16)
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def parse_table(protocol: str, text: str) -> list[SocketRow]:
    rows = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        state = TCP_STATES.get(fields[3], fields[3]) if protocol.startswith("tcp") else fields[3]
        rows.append(
            SocketRow(protocol, decode_address(fields[1]), decode_address(fields[2]), state, fields[9])
        )
    return rows


def has_remote(row: SocketRow) -> bool:
    """A listener or an unconnected UDP socket has the all-zero remote address."""
    host, port = row.remote.rsplit(":", 1)
    return port != "0" or not ipaddress.ip_address(host.strip("[]")).is_unspecified


def is_loopback(host: str) -> bool:
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class ConnectionWatch:
    def __init__(self, pids: Callable[[], Iterable[int]], interval_s: float) -> None:
        self._pids = pids
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._seen: set[Connection] = set()
        self._watched: set[int] = set()
        self._last_pids: list[int] = []
        self.samples = 0
        self._thread = threading.Thread(target=self._run, name="connection-watch", daemon=True)

    def start(self) -> None:
        # The first sample is taken before the block runs, so the block is covered from its start.
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()  # one last look at what the block left open

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample()

    def sample(self) -> None:
        owners = self._socket_owners()
        found: set[Connection] = set()
        for protocol in TABLES:
            try:
                text = (_PROC / "net" / protocol).read_text()
            except FileNotFoundError:
                continue
            for row in parse_table(protocol, text):
                if row.inode in owners and has_remote(row):
                    pid, program = owners[row.inode]
                    found.add(Connection(pid, program, protocol, row.local, row.remote, row.state))
        with self._lock:
            self._seen |= found
            self._watched |= {pid for pid, _ in owners.values()} | set(self._last_pids)
            self.samples += 1

    def _socket_owners(self) -> dict[str, tuple[int, str]]:
        self._last_pids = list(self._pids())
        owners: dict[str, tuple[int, str]] = {}
        for pid in self._last_pids:
            argv = command_line(pid)
            program = program_name(argv) if argv else "?"
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
                for fd in (_PROC / str(pid) / "fd").iterdir():
                    with contextlib.suppress(OSError):
                        target = os.readlink(fd)
                        if target.startswith("socket:["):
                            owners[target[8:-1]] = (pid, program)
        return owners

    @property
    def connections(self) -> set[Connection]:
        with self._lock:
            return set(self._seen)

    @property
    def watched_pids(self) -> set[int]:
        with self._lock:
            return set(self._watched)

    def offending(self) -> list[Connection]:
        return sorted((c for c in self.connections if not c.on_loopback), key=str)

    def seen_programs(self) -> set[str]:
        return {c.program for c in self.connections}

    def assert_loopback_only(self) -> None:
        assert self.samples > 0, "the connection watch took no sample"
        bad = self.offending()
        assert not bad, "connections to non-loopback addresses:\n" + "\n".join(f"  {c}" for c in bad)


@contextlib.contextmanager
def watch_connections(
    pids: Callable[[], Iterable[int]], interval_s: float = 0.05
) -> Iterator[ConnectionWatch]:
    """Sample the sockets of `pids()` (called at each sample, so processes started inside the
    block are watched from their first sample) until the block ends."""
    watch = ConnectionWatch(pids, interval_s)
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()


def cluster_processes(cluster: ClusterUnderTest) -> Callable[[], list[int]]:
    """Every process of the cluster under test, found afresh at each sample."""
    return lambda: list(cluster.processes())


def process_tree(root_pid: int) -> Callable[[], list[int]]:
    """A process and all its descendants (e.g. `meridian up dev` and the engine it starts)."""

    def tree() -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in _PROC.iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
        found, pending = [], [root_pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending.extend(children.get(pid, []))
        return found

    return tree


def combined(*sources: Callable[[], Iterable[int]]) -> Callable[[], list[int]]:
    return lambda: sorted({pid for source in sources for pid in source()})
