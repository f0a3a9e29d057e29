"""Pod networking: Calico through the tigera-operator chart, and kube-proxy's IPVS settings.

The operator's `Installation` is declared here rather than through chart values so that its IP pool
visibly follows the spec's pod subnet, encapsulation and MTU.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from meridian_infra import kube_proxy, sizing
from meridian_infra.helm import Charts
from meridian_infra.objects import Manifest, declare, manifest
from meridian_infra.spec.models import ClusterType, Encapsulation, EnvironmentSpec


def operator_values() -> dict[str, Any]:
    # The Installation below is the single source of Calico's settings.
    return {
        "installation": {"enabled": False},
        "apiServer": {"enabled": True},
        "resources": sizing.resources(sizing.CONTROLLER),
    }


def installation(spec: EnvironmentSpec) -> Manifest:
    encapsulation = spec.network.encapsulation
    uses_bgp = encapsulation in (Encapsulation.IPIP, Encapsulation.IPIP_CROSS_SUBNET, Encapsulation.NONE)
    return manifest(
        "operator.tigera.io/v1",
        "Installation",
        "default",
        spec={
            "variant": "Calico",
            "calicoNetwork": {
                "bgp": "Enabled" if uses_bgp else "Disabled",
                "mtu": spec.network.mtu,
                "ipPools": [
                    {
                        "name": "default-ipv4-ippool",
                        "cidr": spec.cluster.pod_subnet,
                        "encapsulation": encapsulation.value,
                        "natOutgoing": "Enabled",
                        "nodeSelector": "all()",
                    }
                ],
            },
        },
    )


class Network(pulumi.ComponentResource):
    def __init__(self, spec: EnvironmentSpec, charts: Charts, opts: pulumi.ResourceOptions) -> None:
        super().__init__("meridian:platform:Network", "network", None, opts)
        child = pulumi.ResourceOptions(parent=self)
        operator = charts.release("tigera-operator", operator_values(), parent=self)
        if operator is not None:
            declare(
                installation(spec),
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[operator])),
            )
        if spec.cluster.type is ClusterType.EXISTING:
            config_map, daemon_set = kube_proxy.patches(spec.cluster, spec.network)
            cm = k8s.core.v1.ConfigMapPatch("kube-system/kube-proxy", opts=child, **config_map)
            k8s.apps.v1.DaemonSetPatch(
                "kube-system/kube-proxy",
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[cm])),
                **daemon_set,
            )
        self.register_outputs({})
