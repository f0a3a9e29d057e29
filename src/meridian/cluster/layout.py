"""Where the local control plane keeps its state, and which ports it listens on.

Everything lives under one folder (default `.meridian/cluster/`, or $MERIDIAN_CLUSTER_DIR), so a
second checkout, or a test run, gets a cluster of its own by pointing elsewhere. The ports a cluster
was started with are recorded there; `status` and `down` read them back instead of trusting
whatever the environment says now.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from meridian_core.errors import InputError
from meridian_core.layout import LOCAL_CLUSTER_ENV, LOCAL_KUBECONFIG, Below, Repo
from meridian_core.statefile import read_json_state

STATE_DIR_ENV = LOCAL_CLUSTER_ENV
PORT_BASE_ENV = "MERIDIAN_CLUSTER_PORT_BASE"
ADMISSION_OFFSET = 13
# A base leaves room for the ports above it and stays out of the ephemeral range's upper end.
_PORT_BASE_RANGE = range(1024, 65535 - ADMISSION_OFFSET)
_REWRITE_SETTINGS = "run `meridian cluster down --local --purge` to start from scratch"


def port_base() -> int | None:
    """$MERIDIAN_CLUSTER_PORT_BASE, when set: the first of the ports the control plane and the
    GitOps loop take, so that two clusters (or test runs) on one machine do not meet."""
    raw = os.environ.get(PORT_BASE_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) not in _PORT_BASE_RANGE:
        raise InputError(
            f"{PORT_BASE_ENV}={raw} is not a port between {_PORT_BASE_RANGE.start} "
            f"and {_PORT_BASE_RANGE.stop - 1}",
            hint="it is the first of five consecutive ports: apiserver, etcd client and peer, "
            "controller-manager, scheduler (the GitOps loop takes the next eight, the policy "
            "webhook the one after)",
        )
    return int(raw)


@dataclass(frozen=True)
class PortBlock:
    """Loopback TCP ports of one part of the cluster: taken from the port base when one is set,
    else the defaults that part was first proven on."""

    # In field order: each port's distance from the port base, and the port used without a base.
    OFFSETS: ClassVar[tuple[int, ...]] = ()
    DEFAULTS: ClassVar[tuple[int, ...]] = ()

    @classmethod
    def from_base(cls, base: int) -> Self:
        return cls(*(base + offset for offset in cls.OFFSETS))

    @classmethod
    def from_env(cls) -> Self:
        base = port_base()
        return cls(*cls.DEFAULTS) if base is None else cls.from_base(base)

    def by_use(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Ports(PortBlock):
    """The control plane's ports, and the policy webhook's."""

    # The policy webhook's port (OPA) comes after the GitOps loop's eight, so a base's first 13
    # keep their use.
    OFFSETS = (0, 1, 2, 3, 4, ADMISSION_OFFSET)
    DEFAULTS = (16443, 23790, 23800, 16257, 16259, 18443)  # the ports the control plane was proven on

    apiserver: int
    etcd_client: int
    etcd_peer: int
    controller_manager: int
    scheduler: int
    admission: int


@dataclass(frozen=True)
class Settings:
    """What a cluster was started with; read back by every later command on the same folder."""

    ports: Ports
    service_subnet: str
    nodes: int

    def to_json(self) -> str:
        data = {"ports": self.ports.by_use(), "serviceSubnet": self.service_subnet, "nodes": self.nodes}
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Settings:
        return cls(Ports(**data["ports"]), str(data["serviceSubnet"]), int(data["nodes"]))


@dataclass(frozen=True)
class ClusterDir:
    root: Path
    pki = Below("root", "pki")
    logs = Below("root", "logs")
    run = Below("root", "run")
    etcd_data = Below("root", "etcd")
    kubeconfig = Below("root", LOCAL_KUBECONFIG)  # the admin's: users, kubectl, the Pulumi program
    settings_file = Below("root", "cluster.json")

    def component_kubeconfig(self, name: str) -> Path:
        return self.root / "kubeconfigs" / f"{name}.kubeconfig"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def scratch(self, name: str) -> Path:
        """A folder a component may write into (self-signed serving certs, kwok's HOME)."""
        return self.root / "scratch" / name

    def read_settings(self) -> Settings | None:
        return read_json_state(self.settings_file, Settings.from_data, hint=_REWRITE_SETTINGS)

    def write_settings(self, settings: Settings) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.settings_file.write_text(settings.to_json())


def cluster_dir(repo: Repo) -> ClusterDir:
    return ClusterDir(repo.local_cluster_dir)
