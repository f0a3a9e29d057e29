"""A real API server for Kubernetes auth: the local control plane `meridian cluster up --local`
starts, in a temp folder on free ports, reached with the admin credentials of the kubeconfig it writes."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML
from support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
PORTS_PER_CLUSTER = 5  # API server, etcd client and peer, controller manager, scheduler


def free_port_base() -> int:
    """The first of PORTS_PER_CLUSTER consecutive free loopback ports."""
    for _ in range(200):
        base = free_port()
        if base + PORTS_PER_CLUSTER < 65535 and all(_free(base + i) for i in range(PORTS_PER_CLUSTER)):
            return base
    raise RuntimeError(f"no {PORTS_PER_CLUSTER} consecutive free ports found")


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class LocalCluster:
    root: Path
    port_base: int

    def meridian(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("MERIDIAN_CLUSTER_", "MERIDIAN_ROOT"))
        }
        env |= {
            "MERIDIAN_CLUSTER_DIR": str(self.root),
            "MERIDIAN_CLUSTER_PORT_BASE": str(self.port_base),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        return subprocess.run(
            [sys.executable, "-m", "meridian.cli", *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )

    def api(self) -> KubeApi:
        return KubeApi.from_kubeconfig(self.root / "kubeconfig", self.root / "vault-test-credentials")


class KubeApi:
    """Just what the tests need: apply objects, and ask for a service account's token."""

    def __init__(self, server: str, ca_pem: str, cert: Path, key: Path) -> None:
        self.server = server
        self.ca_pem = ca_pem
        tls = ssl.create_default_context(cadata=ca_pem)
        tls.load_cert_chain(str(cert), str(key))
        self._http = httpx.Client(base_url=server, verify=tls, timeout=60)

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path, scratch: Path) -> KubeApi:
        config = YAML(typ="safe").load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        scratch.mkdir(parents=True, exist_ok=True)
        cert, key = scratch / "admin.crt", scratch / "admin.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        key.chmod(0o600)
        ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
        return cls(cluster["server"], ca_pem, cert, key)

    def apply(self, path: str, obj: dict[str, Any]) -> None:
        response = self._http.patch(
            path,
            params={"fieldManager": "meridian-vault-tests", "force": "true"},
            content=json.dumps(obj),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        response.raise_for_status()

    def service_account(self, namespace: str, name: str) -> None:
        self.apply(
            f"/api/v1/namespaces/{namespace}",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        )
        self.apply(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}",
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": namespace},
            },
        )

    def token(self, namespace: str, name: str) -> str:
        """A token of the service account, as the kubelet projects into a pod."""
        response = self._http.post(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            json={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 3600},
            },
        )
        response.raise_for_status()
        token: str = response.json()["status"]["token"]
        return token

    def may_review_tokens(self, namespace: str, name: str) -> None:
        """What Vault's Helm chart grants Vault's service account: system:auth-delegator."""
        binding = f"{namespace}-{name}-auth-delegator"
        self.apply(
            f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{binding}",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": binding},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "system:auth-delegator",
                },
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            },
        )

    def close(self) -> None:
        self._http.close()
