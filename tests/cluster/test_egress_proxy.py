"""The egress proxy as a real process on Unix sockets, its rules, and the files it is driven by,
without a cluster: what it refuses, what it forwards, what it logs, and the bad input it rejects."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from meridian_core.errors import InputError
from meridian_core.yamlio import load_all
from support.egress_watch import Connection, has_remote, parse_table
from support.local_cluster import REPO_ROOT, free_port_base

from meridian.cluster.components import EGRESS_PROXY, Plan, components
from meridian.cluster.egress import (
    EgressFiles,
    ServiceForward,
    add_forward,
    decide,
    log_entries,
    proxy_answers,
    read_forwards,
    remove_forward,
    selector_configuration,
    write_selector_config,
)
from meridian.cluster.layout import ClusterDir, Ports


@pytest.fixture
def files(tmp_path: Path) -> EgressFiles:
    return EgressFiles(ClusterDir(tmp_path / "state"))


def _proxy_argv(files: EgressFiles) -> list[str]:
    """Exactly the command line the manager starts the proxy with. The API server it would ask
    about Services is a free loopback port nobody listens on: lookups fail, which must mean
    "refused"."""
    plan = Plan(files.dirs, Ports.from_base(free_port_base()), REPO_ROOT / "bin", "10.96.0.0/16")
    return components(plan)[EGRESS_PROXY].argv


def _start_proxy(files: EgressFiles, log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        return subprocess.Popen(_proxy_argv(files), stdout=sink, stderr=subprocess.STDOUT)


@pytest.fixture
def proxy(files: EgressFiles) -> Iterator[Path]:
    """The proxy process, answering on both sockets; yields its log."""
    log = files.dirs.log(EGRESS_PROXY)
    process = _start_proxy(files, log)
    deadline = time.monotonic() + 30
    while not proxy_answers(files, timeout_s=1):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the egress proxy did not answer within 30s"
        time.sleep(0.1)
    yield log
    process.terminate()
    assert process.wait(timeout=30) == 0, log.read_text()
    assert not files.socket("cluster").exists()  # it cleans up after itself


def test_a_second_proxy_on_the_same_sockets_refuses_to_start(files: EgressFiles, proxy: Path):
    second = _start_proxy(files, files.dirs.root / "second.log")
    assert second.wait(timeout=30) != 0
    assert "another egress proxy is serving" in (files.dirs.root / "second.log").read_text()
    assert proxy_answers(files)  # the first one is untouched


def test_a_socket_left_by_a_killed_proxy_is_taken_over(files: EgressFiles):
    stale = files.socket("cluster")
    stale.parent.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(stale))  # closed without unlinking, as after SIGKILL
    process = _start_proxy(files, files.dirs.log(EGRESS_PROXY))
    try:
        deadline = time.monotonic() + 30
        while not proxy_answers(files, timeout_s=1):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _connect(files: EgressFiles, selection: str, target: str) -> tuple[socket.socket, bytes]:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(10)
    conn.connect(str(files.socket(selection)))
    # Byte for byte what kube-apiserver's HTTPConnect dialer sends.
    conn.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return conn, conn.recv(4096)


@pytest.fixture
def echo_server() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"echo:" + conn.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()


def _forward(target: str) -> ServiceForward:
    return ServiceForward(namespace="team", service="hook", port=443, target=target)


def _tunnels(log: Path) -> list[dict[str, object]]:
    return [e for e in log_entries(log) if e.get("event") == "tunnel"]


def test_a_cluster_tunnel_to_a_cluster_ip_is_refused_at_once_and_logged(files: EgressFiles, proxy: Path):
    conn, reply = _connect(files, "cluster", "10.96.0.42:443")
    conn.close()
    status_line = reply.split(b"\r\n", 1)[0].decode()
    assert status_line.startswith("HTTP/1.1 403 local egress refused: 10.96.0.42:443")
    assert "egress/forwards.json" in status_line  # the API server quotes this line in its error
    [entry] = _tunnels(proxy)
    assert entry["selection"] == "cluster"
    assert entry["request"] == "10.96.0.42:443"
    assert entry["verdict"] == "refused"


def test_a_cluster_tunnel_to_loopback_is_refused_too(files: EgressFiles, proxy: Path, echo_server: int):
    _, reply = _connect(files, "cluster", f"127.0.0.1:{echo_server}")
    assert reply.startswith(b"HTTP/1.1 403 ")


def test_a_controlplane_tunnel_to_loopback_carries_bytes(files: EgressFiles, proxy: Path, echo_server: int):
    conn, reply = _connect(files, "controlplane", f"127.0.0.1:{echo_server}")
    assert reply == b"HTTP/1.1 200 Connection established\r\n\r\n"
    conn.sendall(b"hello")
    assert conn.recv(100) == b"echo:hello"
    conn.close()
    [entry] = _tunnels(proxy)
    assert entry["verdict"] == "forwarded" and entry["to"] == f"127.0.0.1:{echo_server}"


def test_a_controlplane_tunnel_off_loopback_is_refused(files: EgressFiles, proxy: Path):
    _, reply = _connect(files, "controlplane", "192.0.2.10:443")
    assert reply.startswith(b"HTTP/1.1 403 local egress refused: 192.0.2.10:443: it is not on loopback")


def test_a_forward_added_while_running_takes_effect_at_once(
    files: EgressFiles, proxy: Path, echo_server: int
):
    _, before = _connect(files, "cluster", "hook.team.svc:443")
    add_forward(files, _forward(f"127.0.0.1:{echo_server}"))
    conn, after = _connect(files, "cluster", "hook.team.svc:443")
    conn.sendall(b"ping")
    assert conn.recv(100) == b"echo:ping"
    assert before.startswith(b"HTTP/1.1 403 ")
    assert after.startswith(b"HTTP/1.1 200 ")
    assert [e["verdict"] for e in _tunnels(proxy)] == ["refused", "forwarded"]
    assert _tunnels(proxy)[1]["service"] == "team/hook:443"


def test_a_forward_to_a_silent_port_answers_502(files: EgressFiles, proxy: Path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        add_forward(files, _forward(f"127.0.0.1:{port}"))
        _, reply = _connect(files, "cluster", "hook.team.svc:443")
    assert reply.startswith(b"HTTP/1.1 502 ")
    assert _tunnels(proxy)[0]["verdict"] == "unreachable"


def test_an_unreadable_forwards_file_refuses_everything_and_says_why(files: EgressFiles, proxy: Path):
    files.forwards.parent.mkdir(parents=True, exist_ok=True)
    files.forwards.write_text('{"forwards": [{"namespace": "team"}]}')
    _, reply = _connect(files, "cluster", "hook.team.svc:443")
    assert reply.startswith(b"HTTP/1.1 403 ")
    assert any(e.get("event") == "forwards-unreadable" for e in log_entries(proxy))


# ---- rules and files ---------------------------------------------------------------------------


def _no_lookup(ips: set[str]) -> Callable[[ServiceForward], Awaitable[set[str]]]:
    async def lookup(forward: ServiceForward) -> set[str]:
        return ips

    return lookup


def test_a_cluster_ip_of_a_forwarded_service_is_forwarded():
    forward = ServiceForward(namespace="opa", service="gate", port=443, target="127.0.0.1:18443")
    verdict = asyncio.run(decide("cluster", "10.96.7.7", 443, [forward], _no_lookup({"10.96.7.7"})))
    assert verdict.allowed and verdict.target == ("127.0.0.1", 18443) and verdict.service == "opa/gate:443"
    other_port = asyncio.run(decide("cluster", "10.96.7.7", 8443, [forward], _no_lookup({"10.96.7.7"})))
    assert not other_port.allowed


def test_an_ipv6_loopback_target_is_accepted():
    forward = ServiceForward(namespace="opa", service="gate", port=443, target="[::1]:18443")
    verdict = asyncio.run(decide("cluster", "gate.opa.svc.cluster.local", 443, [forward], _no_lookup(set())))
    assert verdict.target == ("::1", 18443)


@pytest.mark.parametrize("target", ["10.0.0.5:443", "example.com:443", "localhost:443", "127.0.0.1", "::1:x"])
def test_a_forward_to_anything_but_a_loopback_address_is_refused(target: str):
    with pytest.raises(ValueError, match="is not a loopback address with a port"):
        ServiceForward(namespace="opa", service="gate", port=443, target=target)


def test_a_bad_forwards_file_is_named_with_the_field(files: EgressFiles):
    files.forwards.parent.mkdir(parents=True)
    bad_target = {"namespace": "opa", "service": "gate", "port": 443, "target": "10.1.1.1:443"}
    files.forwards.write_text(json.dumps({"forwards": [bad_target]}))
    with pytest.raises(InputError) as bad:
        read_forwards(files.forwards)
    assert str(files.forwards) in bad.value.message
    assert "forwards.0.target" in bad.value.message


def test_forwards_are_added_replaced_and_removed(files: EgressFiles):
    add_forward(files, ServiceForward(namespace="opa", service="gate", port=443, target="127.0.0.1:1"))
    add_forward(files, ServiceForward(namespace="opa", service="gate", port=443, target="127.0.0.1:2"))
    assert [f.target for f in read_forwards(files.forwards)] == ["127.0.0.1:2"]
    assert remove_forward(files, "opa", "gate", 443)
    assert not remove_forward(files, "opa", "gate", 443)
    assert read_forwards(files.forwards) == []


def test_the_selector_config_sends_cluster_and_controlplane_to_the_proxy(files: EgressFiles):
    written = write_selector_config(files)
    [document] = load_all(written.read_text())
    assert document == selector_configuration(files)
    selections = {s["name"]: s["connection"] for s in document["egressSelections"]}
    assert selections["etcd"] == {"proxyProtocol": "Direct"}
    for name in ("cluster", "controlplane"):
        assert selections[name]["proxyProtocol"] == "HTTPConnect"
        # UDS, never TCP: kube-apiserver v1.37 insists on a client certificate for a TCP proxy.
        assert selections[name]["transport"] == {"uds": {"udsName": str(files.socket(name))}}


def test_a_state_folder_too_deep_for_a_unix_socket_is_refused(tmp_path: Path):
    deep = EgressFiles(ClusterDir(tmp_path / ("d" * 120)))
    with pytest.raises(InputError) as refused:
        write_selector_config(deep)
    assert "longer than 107 bytes" in refused.value.message
    assert "MERIDIAN_CLUSTER_DIR" in (refused.value.hint or "")


# ---- the connection watch's reading of the kernel's tables -------------------------------------

_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:3E80 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1
   1: 0100007F:A1B2 0100007F:3E80 01 00000000:00000000 00:00000000 00000000     0        0 1002 1
   2: 0200000A:C350 0500600A:01BB 02 00000000:00000000 00:00000000 00000000     0        0 1003 1
"""
_TCP6 = """  sl  local_address                         remote_address                        st tx_queue
   0: 00000000000000000000000001000000:A1B3 00000000000000000000000001000000:3E80 01 0:0 0:0 0 0 0 2001 1
   1: 0000000000000000FFFF00000100007F:A1B4 0000000000000000FFFF00000100007F:3E80 01 0:0 0:0 0 0 0 2002 1
"""


def test_the_watch_decodes_kernel_rows_and_tells_loopback_from_the_rest():
    rows = parse_table("tcp", _TCP) + parse_table("tcp6", _TCP6)
    by_inode = {r.inode: r for r in rows}
    assert not has_remote(by_inode["1001"])  # a listener
    assert by_inode["1002"].remote == "127.0.0.1:16000"
    assert by_inode["1003"].remote == "10.96.0.5:443" and by_inode["1003"].state == "SYN_SENT"
    assert by_inode["2001"].remote == "[::1]:16000"
    mapped = by_inode["2002"].remote.rsplit(":", 1)[0].strip("[]")
    assert ipaddress.ip_address(mapped) == ipaddress.ip_address("::ffff:127.0.0.1")

    def connection(inode: str) -> Connection:
        row = by_inode[inode]
        return Connection(1, "x", row.protocol, row.local, row.remote, row.state)

    assert [connection(i).on_loopback for i in ("1002", "1003", "2001", "2002")] == [True, False, True, True]
