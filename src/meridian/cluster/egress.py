"""The API server's egress, pinned to loopback: where its connections may go, and the files that say so.

kube-apiserver opens connections of its own for admission and conversion webhooks, aggregated
APIs, the `proxy` subresources and kubelet calls (logs, exec, port-forward). They aim at Service
ClusterIPs, pod IPs and node addresses, which on this machine lead off it through the default
route. Its egress selector therefore sends the `cluster` and `controlplane` selections as HTTP
CONNECT requests over Unix sockets to the local egress proxy (`egress_proxy.py`), which decides
here: a tunnel is refused unless a forward names the Service it aims at and a loopback address
that serves it, or (for `controlplane`: webhooks given by URL) it aims at loopback already.
The `etcd` selection stays direct: etcd listens on 127.0.0.1 by our own flags.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from meridian_core.errors import InputError
from meridian_core.layout import Below
from meridian_core.yamlio import dump_all
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from meridian.cluster.layout import ClusterDir

Selection = Literal["cluster", "controlplane"]
SELECTIONS: tuple[Selection, ...] = ("cluster", "controlplane")
# sun_path holds 108 bytes including the terminating NUL.
_UDS_PATH_MAX = 107
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class ServiceForward(BaseModel):
    """A Service whose port really is served by a process on this machine's loopback."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: Annotated[str, Field(pattern=_DNS_LABEL)]
    service: Annotated[str, Field(pattern=_DNS_LABEL)]
    port: Annotated[int, Field(ge=1, le=65535)]
    target: str  # HOST:PORT with a loopback HOST: 127.0.0.1:18443, [::1]:18443

    @field_validator("target")
    @classmethod
    def _loopback_target(cls, value: str) -> str:
        host, port = split_host_port(value)
        if port is None or not is_loopback_literal(host):
            raise ValueError(
                f"{value!r} is not a loopback address with a port "
                "(allowed: 127.0.0.0/8 or ::1, e.g. 127.0.0.1:18443 or [::1]:18443)"
            )
        return value

    @property
    def address(self) -> tuple[str, int]:
        host, port = split_host_port(self.target)
        return host, port or 0  # the validator made sure there is a port

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.service}:{self.port}"

    def names(self) -> set[str]:
        """The host names a caller may give this Service by."""
        short = f"{self.service}.{self.namespace}.svc"
        return {short, f"{short}.cluster.local"}


class Forwards(BaseModel):
    model_config = ConfigDict(extra="forbid")

    forwards: list[ServiceForward] = []


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str
    target: tuple[str, int] | None = None  # where an allowed tunnel is connected to
    service: str | None = None  # namespace/name:port of the forward that allowed it


# A Service's ClusterIPs (empty when it does not exist), asked of the API server when needed.
ClusterIps = Callable[[ServiceForward], Awaitable[set[str]]]


@dataclass(frozen=True)
class EgressFiles:
    """The egress files of one cluster state folder."""

    dirs: ClusterDir
    folder = Below("dirs.root", "egress")
    selector_config = Below("folder", "egress-selector.yaml")  # --egress-selector-config-file
    forwards = Below("folder", "forwards.json")

    def socket(self, selection: Selection) -> Path:
        return self.dirs.run / f"egress-{selection}.sock"


def selector_configuration(files: EgressFiles) -> dict[str, Any]:
    def through(selection: Selection) -> dict[str, Any]:
        uds = {"udsName": str(files.socket(selection))}
        return {"name": selection, "connection": {"proxyProtocol": "HTTPConnect", "transport": {"uds": uds}}}

    return {
        # v1beta1 is the newest version kube-apiserver v1.37 reads this kind in.
        "apiVersion": "apiserver.k8s.io/v1beta1",
        "kind": "EgressSelectorConfiguration",
        "egressSelections": [
            *(through(s) for s in SELECTIONS),
            {"name": "etcd", "connection": {"proxyProtocol": "Direct"}},
        ],
    }


def write_selector_config(files: EgressFiles) -> Path:
    """Write the API server's egress selector configuration; refuse socket paths too long for Unix."""
    for selection in SELECTIONS:
        path = files.socket(selection)
        if len(os.fsencode(path)) > _UDS_PATH_MAX:
            raise InputError(
                f"the egress proxy's socket path {path} is longer than {_UDS_PATH_MAX} bytes, "
                "the limit of a Unix socket address",
                hint="use a shorter state folder, e.g. MERIDIAN_CLUSTER_DIR=/tmp/meridian-cluster",
            )
    _write_atomically(files.selector_config, dump_all([selector_configuration(files)]))
    return files.selector_config


# ---- forwards: the seam for webhooks that really run on loopback --------------------------------


def read_forwards(path: Path) -> list[ServiceForward]:
    """The forwards in `path` (an EgressFiles.forwards); none when the file does not exist."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    try:
        return Forwards.model_validate_json(text).forwards
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors()
        )
        raise InputError(
            f"{path} is invalid: {problems}",
            hint='expected {"forwards": [{"namespace", "service", "port", "target": "127.0.0.1:PORT"}]}',
        ) from None


def add_forward(files: EgressFiles, forward: ServiceForward) -> None:
    """Send the API server's connections to this Service port to `forward.target` from now on
    (the proxy reads the file at each tunnel request: no restart)."""
    kept = [f for f in read_forwards(files.forwards) if f.key != forward.key]
    _write_forwards(files, [*kept, forward])


def remove_forward(files: EgressFiles, namespace: str, service: str, port: int) -> bool:
    current = read_forwards(files.forwards)
    kept = [f for f in current if f.key != f"{namespace}/{service}:{port}"]
    _write_forwards(files, kept)
    return len(kept) != len(current)


def _write_forwards(files: EgressFiles, forwards: Iterable[ServiceForward]) -> None:
    text = Forwards(forwards=list(forwards)).model_dump_json(indent=2) + "\n"
    _write_atomically(files.forwards, text)


def _write_atomically(path: Path, text: str) -> None:
    # Written whole under a temporary name, then renamed: the proxy never reads half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


# ---- the verdict on one CONNECT request ---------------------------------------------------------


async def decide(
    selection: Selection, host: str, port: int, forwards: list[ServiceForward], cluster_ips: ClusterIps
) -> Verdict:
    """Forward to loopback what a forward names; pass `controlplane` tunnels to loopback; refuse the rest."""
    candidates = [f for f in forwards if f.port == port]
    for forward in candidates:
        if host.lower() in forward.names():
            return _forwarded(forward, f"{host} is forwarded Service {forward.key}")
    if candidates and _is_ip(host):
        for forward in candidates:
            if host in await cluster_ips(forward):
                return _forwarded(forward, f"{host} is the ClusterIP of forwarded Service {forward.key}")
    if selection == "controlplane" and (is_loopback_literal(host) or host.lower() == "localhost"):
        address = "127.0.0.1" if host.lower() == "localhost" else host
        return Verdict(True, f"{host} is loopback", (address, port))
    if selection == "cluster":
        why = "the cluster egress reaches only Services that egress/forwards.json forwards to loopback"
    else:
        why = "it is not on loopback and egress/forwards.json does not forward it"
    return Verdict(False, f"{host}:{port}: {why}")


def _forwarded(forward: ServiceForward, reason: str) -> Verdict:
    return Verdict(True, reason, forward.address, forward.key)


def split_host_port(text: str) -> tuple[str, int | None]:
    """`host:port`, `[v6]:port`; the port is None when missing or not a port number."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return text.strip("[]"), None
    return host.removeprefix("[").removesuffix("]"), int(port)


def is_loopback_literal(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def proxy_answers(files: EgressFiles, timeout_s: float = 5.0) -> bool:
    """Both of the proxy's sockets answer its health check."""
    for selection in SELECTIONS:
        transport = httpx.HTTPTransport(uds=str(files.socket(selection)))
        try:
            with httpx.Client(transport=transport, timeout=timeout_s) as client:
                # The host name is not looked up: the transport always dials the socket.
                if client.get("http://egress-proxy/healthz").status_code != 200:
                    return False
        except (OSError, httpx.HTTPError):
            return False
    return True


def log_entries(log: Path) -> list[dict[str, Any]]:
    """The proxy's log as records (one JSON object a line); lines that are not JSON are skipped."""
    entries: list[dict[str, Any]] = []
    try:
        lines = log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return entries
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            entries.append(record)
    return entries
