"""kube-proxy in IPVS mode on clusters Meridian does not create.

kind clusters get IPVS from their kind config. On an existing kubeadm-style cluster Meridian owns
the `config.conf` key of `kube-system/kube-proxy` (a managed patch: other keys and fields stay with
their owners) and stamps kube-proxy's pod template with the config's hash, so a change rolls the
DaemonSet. See docs/operations.md, "kube-proxy on existing clusters".
"""

from __future__ import annotations

import hashlib
from io import StringIO
from typing import Any

from ruamel.yaml import YAML

from meridian_infra.spec.models import Cluster, Network

CONFIG_HASH_ANNOTATION = "meridian.dev/kube-proxy-config-hash"
# kubeadm mounts kube-proxy's credentials here; the generated config keeps that path.
KUBEADM_KUBECONFIG = "/var/lib/kube-proxy/kubeconfig.conf"


def kube_proxy_configuration(cluster: Cluster, network: Network) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "bindAddress": "0.0.0.0",  # noqa: S104 - kube-proxy serves health checks to the node
        "clientConnection": {"kubeconfig": KUBEADM_KUBECONFIG},
        "clusterCIDR": cluster.pod_subnet,
        "mode": "ipvs",
        "ipvs": {"scheduler": network.ipvs_scheduler.value, "strictARP": True},
        # Prometheus scrapes kube-proxy from the monitoring namespace.
        "metricsBindAddress": "0.0.0.0:10249",
    }


def render(config: dict[str, Any]) -> str:
    buffer = StringIO()
    YAML().dump(config, buffer)
    return buffer.getvalue()


def config_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def patches(cluster: Cluster, network: Network) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ConfigMap and DaemonSet patches, as manifests for pulumi-kubernetes' *Patch resources."""
    text = render(kube_proxy_configuration(cluster, network))
    metadata = {
        "name": "kube-proxy",
        "namespace": "kube-system",
        "annotations": {"pulumi.com/patchForce": "true"},
    }
    config_map = {"metadata": metadata, "data": {"config.conf": text}}
    daemon_set = {
        "metadata": metadata,
        "spec": {"template": {"metadata": {"annotations": {CONFIG_HASH_ANNOTATION: config_hash(text)}}}},
    }
    return config_map, daemon_set
