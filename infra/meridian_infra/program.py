"""The platform of one environment, in the order its parts depend on each other.

spec → cluster connection → namespaces → networking → Argo CD. Each component takes the typed spec
and the provider and returns what later ones need; none reads another's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from meridian_infra.argocd import ArgoCD
from meridian_infra.cluster import ClusterAccess, ClusterConnection
from meridian_infra.helm import Charts
from meridian_infra.namespaces import Namespaces
from meridian_infra.network import Network
from meridian_infra.spec.models import EnvironmentSpec


@dataclass(frozen=True)
class Platform:
    cluster: ClusterConnection
    namespaces: Namespaces
    charts: Charts
    argocd: ArgoCD


def declare_platform(spec: EnvironmentSpec, access: ClusterAccess, *, probe_charts: bool) -> Platform:
    cluster = ClusterConnection(spec, access)
    on_cluster = pulumi.ResourceOptions(provider=cluster.provider)
    namespaces = Namespaces(spec, pulumi.ResourceOptions(providers=[cluster.provider]))
    charts = Charts(spec, cluster.provider, probe=probe_charts)
    Network(spec, charts, cluster.provider, namespaces.namespaces["tigera-operator"], on_cluster)
    argocd = ArgoCD(spec, charts, cluster.provider, namespaces.namespaces["argocd"], on_cluster)
    return Platform(cluster=cluster, namespaces=namespaces, charts=charts, argocd=argocd)


def export_outputs(platform: Platform) -> None:
    pulumi.export("kubeconfig", platform.cluster.kubeconfig)
    pulumi.export("clusterType", platform.cluster.type.value)
    pulumi.export("argocdAddress", platform.argocd.address)
    pulumi.export("argocdAdminPassword", platform.argocd.admin_password)
    pulumi.export("namespaces", platform.namespaces.outputs.names)
    pulumi.export("quotas", platform.namespaces.outputs.quotas)
    pulumi.export("skippedCharts", platform.charts.skipped)
