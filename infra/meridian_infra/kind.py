"""A kind cluster as a Pulumi resource: the generated kind config, and a dynamic provider that runs `kind`.

kind gives dev a real multi-node cluster wherever a container runtime runs. Its config disables the
default CNI (Calico replaces it) and puts kube-proxy in IPVS mode with the spec's scheduler.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from io import StringIO
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic
from ruamel.yaml import YAML

from meridian_infra.spec.models import Cluster, Network

# kind v0.33's node image for Kubernetes 1.35; bump with kind itself.
NODE_IMAGE = "kindest/node:v1.35.0"


def kind_config(cluster: Cluster, network: Network) -> dict[str, Any]:
    kube_proxy = (
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
        "kind: KubeProxyConfiguration\n"
        "mode: ipvs\n"
        "ipvs:\n"
        f"  scheduler: {network.ipvs_scheduler.value}\n"
        # IPVS answers ARP for every service IP unless told not to; MetalLB-style L2 needs this.
        "  strictARP: true\n"
    )
    workers = cluster.workers or 0
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": cluster.name,
        "networking": {
            "disableDefaultCNI": True,
            "kubeProxyMode": "ipvs",
            "podSubnet": cluster.pod_subnet,
            "serviceSubnet": cluster.service_subnet,
        },
        "nodes": [{"role": "control-plane", "image": NODE_IMAGE}]
        + [{"role": "worker", "image": NODE_IMAGE} for _ in range(workers)],
        "kubeadmConfigPatches": [kube_proxy],
    }


def render_kind_config(config: dict[str, Any]) -> str:
    buffer = StringIO()
    YAML().dump(config, buffer)
    return buffer.getvalue()


def container_runtime_available() -> bool:
    """kind needs a container engine that answers, not merely a `docker` client on PATH."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class _KindProvider(pulumi.dynamic.ResourceProvider):
    """Creates and deletes a kind cluster; a changed config replaces the cluster."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        name, config = props["name"], props["config"]
        with tempfile.TemporaryDirectory() as tmp:
            config_file = Path(tmp) / "kind.yaml"
            config_file.write_text(config)
            _kind("create", "cluster", "--name", name, "--config", str(config_file), "--wait", "5m")
        kubeconfig = _kind("get", "kubeconfig", "--name", name)
        return pulumi.dynamic.CreateResult(id_=name, outs={**props, "kubeconfig": kubeconfig})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = [key for key in ("name", "config") if olds.get(key) != news.get(key)]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        clusters = _kind("get", "clusters").split()
        if id_ not in clusters:
            return pulumi.dynamic.ReadResult(id_="", outs={})
        return pulumi.dynamic.ReadResult(
            id_=id_, outs={**props, "kubeconfig": _kind("get", "kubeconfig", "--name", id_)}
        )

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        _kind("delete", "cluster", "--name", id_)


def _kind(*args: str) -> str:
    kind = shutil.which("kind")
    if kind is None:
        raise RuntimeError(
            "kind is not on PATH: `meridian tools install --group kind` builds the pinned version into bin/ "
            "(`make up` does so when a container engine answers), or set cluster.type to local in the spec"
        )
    proc = subprocess.run([kind, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"kind {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


class KindCluster(pulumi.dynamic.Resource):
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, cluster: Cluster, network: Network, opts: pulumi.ResourceOptions) -> None:
        props = {
            "name": cluster.name,
            "config": render_kind_config(kind_config(cluster, network)),
            "kubeconfig": None,
        }
        super().__init__(
            _KindProvider(),
            name,
            props,
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"])
            ),
        )
