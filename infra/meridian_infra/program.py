"""The platform of one environment, in the order its parts depend on each other.

spec → cluster connection → namespaces → the policy webhook, networking → Argo CD, Vault,
observability. Each component takes the typed spec and the provider and returns what later ones
need; none reads another's internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from meridian_infra.argocd import ArgoCD
from meridian_infra.cluster import ClusterAccess, ClusterConnection
from meridian_infra.helm import Charts
from meridian_infra.namespaces import Namespaces
from meridian_infra.network import Network
from meridian_infra.observability.stack import AppObservability, Observability
from meridian_infra.passwords import generated_password
from meridian_infra.policy_webhook import PolicyWebhook
from meridian_infra.spec.models import EnvironmentSpec
from meridian_infra.vault.configuration import declare_vault_configuration
from meridian_infra.vault.release import VaultRelease
from meridian_infra.vault.settings import VaultConnection

# The checkout this program comes from: where the policy webhook's files are read when the caller
# names no other (stack.run names the Pulumi project being run).
CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StackSecrets:
    """Settings only the stack's encrypted config holds."""

    vault_seal: pulumi.Input[str] | None = None  # body of Vault's seal block (auto-unseal)
    alert_receivers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # receiver -> webhook URL
    vault: VaultConnection | None = None  # how the program reaches Vault to configure it
    # Loki's S3 settings (endpoint, region, accessKeyId, secretAccessKey) where it stores in S3.
    loki_object_storage: Mapping[str, pulumi.Input[str]] | None = None


@dataclass(frozen=True)
class Platform:
    cluster: ClusterConnection
    namespaces: Namespaces
    charts: Charts
    argocd: ArgoCD
    vault: VaultRelease
    observability: Observability
    policy_webhook: PolicyWebhook


def declare_platform(
    spec: EnvironmentSpec,
    access: ClusterAccess,
    *,
    probe_charts: bool,
    secrets: StackSecrets | None = None,
    root: Path | None = None,
) -> Platform:
    secrets = secrets or StackSecrets()
    cluster = ClusterConnection(spec, access)
    on_cluster = pulumi.ResourceOptions(provider=cluster.provider)
    namespaces = Namespaces(spec, pulumi.ResourceOptions(providers=[cluster.provider]))
    policy_webhook = PolicyWebhook(spec, cluster, namespaces.namespaces, root or CHECKOUT, on_cluster)
    charts = Charts(spec, cluster.provider, probe=probe_charts, namespaces=namespaces.namespaces)
    Network(spec, charts, on_cluster)
    argocd = ArgoCD(spec, charts, on_cluster)
    vault = VaultRelease(
        spec,
        charts,
        namespaces.namespaces["vault"],
        seal_settings=secrets.vault_seal,
        dev_root_token=generated_password("vault-dev-root-token", length=32).value,
        app_namespaces={app: namespaces.namespaces[app] for app in spec.apps},
        opts=on_cluster,
    )
    declare_vault_configuration(spec, vault, secrets.vault, pulumi.ResourceOptions(parent=vault))
    observability = Observability(
        spec,
        charts,
        namespaces.namespaces["monitoring"],
        secrets.alert_receivers,
        on_cluster,
        loki_storage=secrets.loki_object_storage,
    )
    AppObservability(spec, observability, namespaces.namespaces, on_cluster)
    return Platform(
        cluster=cluster,
        namespaces=namespaces,
        charts=charts,
        argocd=argocd,
        vault=vault,
        observability=observability,
        policy_webhook=policy_webhook,
    )


def export_outputs(platform: Platform) -> None:
    pulumi.export("kubeconfig", platform.cluster.kubeconfig)
    pulumi.export("clusterType", platform.cluster.type.value)
    pulumi.export("argocdAddress", platform.argocd.address)
    pulumi.export("argocdAdminPassword", platform.argocd.admin_password)
    pulumi.export("grafanaAdminPassword", platform.observability.grafana_admin_password)
    pulumi.export("vaultAddress", platform.vault.address)
    pulumi.export("namespaces", platform.namespaces.outputs.names)
    pulumi.export("quotas", platform.namespaces.outputs.quotas)
    pulumi.export("skippedCharts", platform.charts.skipped)
