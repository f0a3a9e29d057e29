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
from typing import Any

from meridian_core.errors import InputError
from meridian_core.layout import LOCAL_CLUSTER_ENV, LOCAL_KUBECONFIG, Repo

STATE_DIR_ENV = LOCAL_CLUSTER_ENV
PORT_BASE_ENV = "MERIDIAN_CLUSTER_PORT_BASE"
ADMISSION_OFFSET = 13
# A base leaves room for the ports above it and stays out of the ephemeral range's upper end.
_PORT_BASE_RANGE = range(1024, 65535 - ADMISSION_OFFSET)


@dataclass(frozen=True)
class Ports:
    """Loopback TCP ports; the defaults are the ones the control plane was first proven on."""

    apiserver: int = 16443
    etcd_client: int = 23790
    etcd_peer: int = 23800
    controller_manager: int = 16257
    scheduler: int = 16259
    # The policy webhook (OPA); after the GitOps loop's eight, so a base's first 13 keep their use.
    admission: int = 18443

    @classmethod
    def from_base(cls, base: int) -> Ports:
        return cls(base, base + 1, base + 2, base + 3, base + 4, base + ADMISSION_OFFSET)

    @classmethod
    def from_env(cls) -> Ports:
        raw = os.environ.get(PORT_BASE_ENV, "").strip()
        if not raw:
            return cls()
        if not raw.isdigit() or int(raw) not in _PORT_BASE_RANGE:
            raise InputError(
                f"{PORT_BASE_ENV}={raw} is not a port between {_PORT_BASE_RANGE.start} "
                f"and {_PORT_BASE_RANGE.stop - 1}",
                hint="it is the first of five consecutive ports: apiserver, etcd client and peer, "
                "controller-manager, scheduler (the GitOps loop takes the next eight, the policy "
                "webhook the one after)",
            )
        return cls.from_base(int(raw))

    def by_use(self) -> dict[str, int]:
        return asdict(self)


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
    def from_json(cls, text: str) -> Settings:
        data: dict[str, Any] = json.loads(text)
        return cls(Ports(**data["ports"]), str(data["serviceSubnet"]), int(data["nodes"]))


@dataclass(frozen=True)
class ClusterDir:
    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig: what users, kubectl and the Pulumi program use."""
        return self.root / LOCAL_KUBECONFIG

    @property
    def settings_file(self) -> Path:
        return self.root / "cluster.json"

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
        try:
            return Settings.from_json(self.settings_file.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{self.settings_file} is unreadable: {exc}",
                hint="run `meridian cluster down --local --purge` to start from scratch",
            ) from None

    def write_settings(self, settings: Settings) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.settings_file.write_text(settings.to_json())


def cluster_dir(repo: Repo) -> ClusterDir:
    return ClusterDir(repo.local_cluster_dir)
