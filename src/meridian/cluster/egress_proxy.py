"""The local egress proxy: an HTTP CONNECT server on Unix sockets, dialled by the API server's egress
selector for every connection the API server makes of its own accord (egress.py says which and
decides each one). Every tunnel request and its verdict is one JSON line on stdout, which the
manager sends to logs/egress-proxy.log.

The manager runs it as a detached process:
`python -m meridian.cluster.egress_proxy --socket cluster=PATH --socket controlplane=PATH
--forwards FILE --server URL --pki DIR`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from meridian_core.errors import MeridianError

from meridian.cluster.egress import (
    SELECTIONS,
    Selection,
    ServiceForward,
    Verdict,
    decide,
    read_forwards,
    split_host_port,
)

_HEAD_LIMIT = 16 * 1024
_HEAD_TIMEOUT_S = 10.0
_CONNECT_TIMEOUT_S = 5.0
_LOOKUP_TIMEOUT_S = 5.0
_CHUNK = 64 * 1024

Emit = Callable[[dict[str, Any]], None]


def emit_json_line(record: dict[str, Any]) -> None:
    stamped = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), **record}
    print(json.dumps(stamped, sort_keys=False), flush=True)


class EgressProxy:
    def __init__(self, forwards_file: Path, server: str, pki: Path, emit: Emit) -> None:
        self._forwards_file = forwards_file
        self._server = server
        self._pki = pki
        self._emit = emit
        self._client: httpx.AsyncClient | None = None
        self._active: set[asyncio.Task[Any]] = set()

    def forwards(self) -> list[ServiceForward]:
        """Read at each request, so a forward added or removed takes effect at once. A file that
        cannot be read counts as no forwards: the proxy fails closed, and says why."""
        try:
            return read_forwards(self._forwards_file)
        except (MeridianError, OSError) as exc:
            self._emit({"event": "forwards-unreadable", "file": str(self._forwards_file), "error": str(exc)})
            return []

    async def cluster_ips(self, forward: ServiceForward) -> set[str]:
        path = f"/api/v1/namespaces/{forward.namespace}/services/{forward.service}"
        try:
            response = await self._api().get(path)
        except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
            self._emit({"event": "lookup-failed", "service": forward.key, "error": str(exc)})
            return set()
        if response.status_code != 200:
            return set()
        spec = response.json().get("spec", {})
        ips = set(spec.get("clusterIPs") or [spec.get("clusterIP", "")])
        return {ip for ip in ips if ip and ip != "None"}

    def _api(self) -> httpx.AsyncClient:
        # Made at the first lookup: the proxy starts before the API server, and most runs never look up.
        if self._client is None:
            context = ssl.create_default_context(cafile=str(self._pki / "ca.crt"))
            context.load_cert_chain(str(self._pki / "admin.crt"), str(self._pki / "admin.key"))
            self._client = httpx.AsyncClient(base_url=self._server, verify=context, timeout=_LOOKUP_TIMEOUT_S)
        return self._client

    async def close(self) -> None:
        for task in list(self._active):
            task.cancel()
        await asyncio.gather(*self._active, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def handle(
        self, selection: Selection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._active.add(task)
        try:
            await self._handle(selection, reader, writer)
        except (ConnectionError, OSError):
            pass  # the API server hung up: nothing to answer
        except asyncio.CancelledError:
            pass  # the proxy is stopping: open tunnels end with it
        finally:
            if task is not None:
                self._active.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _handle(
        self, selection: Selection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT_S)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            return
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(parts) != 3:
            await _respond(writer, 400, "malformed request line")
            return
        method, target, _version = parts
        if method == "GET" and target == "/healthz":
            await _respond(writer, 200, "OK", body=b"ok\n")
            return
        if method != "CONNECT":
            await _respond(writer, 405, "only CONNECT is served here")
            return
        host, port = split_host_port(target)
        record: dict[str, Any] = {"event": "tunnel", "selection": selection, "request": target}
        if port is None:
            self._emit({**record, "verdict": "refused", "reason": "no port in the CONNECT target"})
            await _respond(writer, 400, "CONNECT needs host:port")
            return
        verdict = await decide(selection, host, port, self.forwards(), self.cluster_ips)
        if not verdict.allowed or verdict.target is None:
            self._emit({**record, "verdict": "refused", "reason": verdict.reason})
            await _respond(writer, 403, f"local egress refused: {verdict.reason}")
            return
        await self._tunnel(record, verdict, verdict.target, reader, writer)

    async def _tunnel(
        self,
        record: dict[str, Any],
        verdict: Verdict,
        target: tuple[str, int],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        host, port = target
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        record = {**record, "to": shown, "reason": verdict.reason}
        if verdict.service:
            record["service"] = verdict.service
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), _CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as exc:
            self._emit({**record, "verdict": "unreachable", "error": str(exc) or type(exc).__name__})
            await _respond(writer, 502, f"local egress target {shown} is not answering")
            return
        self._emit({**record, "verdict": "forwarded"})
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await up_writer.wait_closed()


async def _respond(writer: asyncio.StreamWriter, status: int, reason: str, body: bytes = b"") -> None:
    # The reason phrase carries the explanation: kube-apiserver quotes the status line in its error.
    phrase = reason.replace("\r", " ").replace("\n", " ")
    head = f"HTTP/1.1 {status} {phrase}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    writer.write(head.encode("latin-1", errors="replace") + body)
    await writer.drain()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(_CHUNK):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (ConnectionError, OSError):
        sink.close()


def _claim(path: Path) -> None:
    """Take over a socket path left by a proxy that died; refuse one that a live proxy serves."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()
            return
    raise SystemExit(f"another egress proxy is serving {path}: stop it first")


async def serve(sockets: dict[Selection, Path], proxy: EgressProxy, emit: Emit) -> None:
    servers = []
    for selection, path in sockets.items():
        _claim(path)
        servers.append(
            await asyncio.start_unix_server(
                partial(proxy.handle, selection), path=str(path), limit=_HEAD_LIMIT
            )
        )
    emit({"event": "listening", "sockets": {s: str(p) for s, p in sockets.items()}})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()
    for path in sockets.values():
        path.unlink(missing_ok=True)
    await proxy.close()
    emit({"event": "stopped"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="egress-proxy", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", action="append", default=[], metavar="SELECTION=PATH", required=True)
    parser.add_argument(
        "--forwards", type=Path, required=True, help="the forwards file (egress/forwards.json)"
    )
    parser.add_argument("--server", required=True, help="the API server's URL, to look up Services")
    parser.add_argument("--pki", type=Path, required=True, help="the cluster's certificates (ca, admin)")
    args = parser.parse_args(argv)
    sockets: dict[Selection, Path] = {}
    for item in args.socket:
        name, _, path = item.partition("=")
        selection = next((s for s in SELECTIONS if s == name), None)
        if selection is None or not path:
            parser.error(
                f"--socket {item}: expected SELECTION=PATH, SELECTION one of {', '.join(SELECTIONS)}"
            )
        sockets[selection] = Path(path)
    # Sockets and files made here are the owner's alone: the API server runs as the same user.
    os.umask(0o077)
    proxy = EgressProxy(args.forwards, args.server, args.pki, emit_json_line)
    asyncio.run(serve(sockets, proxy, emit_json_line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
