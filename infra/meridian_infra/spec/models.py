"""Typed models of what an environment is made of.

- `PlatformSpec`: `environments/<env>/platform.yaml`, what one environment's platform looks like;
- `AppContract`: `apps/<app>/app.yaml`, an app's contract with the platform, the same in every
  environment (team, ports, calls, SLO, database, Vault Agent);
- `Sizing`: what the platform reads of an app's overlay, `environments/<env>/apps/<app>/settings.yaml`
  (replicas, autoscaling bounds, the app container's resources), which Argo CD applies as it is;
- `EnvironmentSpec`: the three together, what the platform program declares from (spec/loader.py).

Keys are camelCase, as in Kubernetes objects. Every model of a file Meridian owns forbids unknown keys
so that a typo is an error with a suggestion instead of a silently ignored setting.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from meridian_core import durations, quantity
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from meridian_infra.chart_sources import ALLOWED as CHART_SOURCES
from meridian_infra.chart_sources import source_problem
from meridian_infra.charts import CHARTS

# Platform components install into these; an environment without them cannot run the platform.
REQUIRED_PLATFORM_NAMESPACES = ("tigera-operator", "argocd", "vault", "monitoring")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)"
        )
    return value


def _quantity(value: str) -> str:
    if not quantity.is_quantity(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 256Mi, 1Gi)")
    return value


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network in CIDR notation (e.g. 10.244.0.0/16): {exc}") from None


def _duration(value: str) -> str:
    durations.seconds(value)
    return value


def _latency_threshold(value: str) -> str:
    durations.histogram_bound(value)
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Quantity = Annotated[str, AfterValidator(_quantity)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Duration = Annotated[str, AfterValidator(_duration)]
LatencyThreshold = Annotated[str, AfterValidator(_latency_threshold)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True, use_enum_values=False
    )


class ClusterType(StrEnum):
    AUTO = "auto"  # kind where a container runtime answers, else the local control plane
    KIND = "kind"
    LOCAL = "local"  # etcd + kube-apiserver + kwok as local processes (`meridian cluster up --local`)
    EXISTING = "existing"  # reached through a kubeconfig/context from the stack's config


class Encapsulation(StrEnum):
    IPIP = "IPIP"
    IPIP_CROSS_SUBNET = "IPIPCrossSubnet"
    VXLAN = "VXLAN"
    VXLAN_CROSS_SUBNET = "VXLANCrossSubnet"
    NONE = "None"


class IpvsScheduler(StrEnum):
    """kube-proxy's IPVS schedulers (see `ipvsadm --help`)."""

    ROUND_ROBIN = "rr"
    LEAST_CONNECTION = "lc"
    DESTINATION_HASHING = "dh"
    SOURCE_HASHING = "sh"
    SHORTEST_EXPECTED_DELAY = "sed"
    NEVER_QUEUE = "nq"


class PodSecurityLevel(StrEnum):
    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"


class Cluster(Model):
    type: ClusterType
    pod_subnet: Cidr
    service_subnet: Cidr
    workers: Annotated[int, Field(ge=0, le=20)] | None = None
    name: DnsLabel = "meridian"

    @model_validator(mode="after")
    def _subnets_apart(self) -> Cluster:
        pods = ipaddress.ip_network(self.pod_subnet)
        services = ipaddress.ip_network(self.service_subnet)
        if pods.overlaps(services):
            raise ValueError(
                f"podSubnet {pods} and serviceSubnet {services} overlap; give them disjoint ranges"
            )
        return self

    @model_validator(mode="after")
    def _workers_only_for_clusters_we_create(self) -> Cluster:
        if self.type is ClusterType.EXISTING and self.workers is not None:
            raise ValueError(
                "workers applies to clusters Meridian creates (auto, kind, local), not to existing"
            )
        return self


class Network(Model):
    encapsulation: Encapsulation
    mtu: Annotated[int, Field(ge=1000, le=9000)]
    ipvs_scheduler: IpvsScheduler
    database_cidrs: list[Cidr] = Field(
        default_factory=list, alias="databaseCIDRs", description="where the apps' PostgreSQL runs"
    )
    api_server_cidrs: Annotated[list[Cidr], Field(min_length=1)] = Field(
        alias="apiServerCIDRs",
        description="the API server's endpoint addresses (`kubectl get endpoints kubernetes`): the only "
        "hosts platform controllers may reach on 443/6443",
    )


def _chart_source(value: str) -> str:
    problem = source_problem(value)
    if problem:
        raise ValueError(f"{value!r}: {problem}")
    return value


class ChartOverride(Model):
    repository: Annotated[str, AfterValidator(_chart_source)] | None = Field(
        None, description=f"a mirror of the chart: {CHART_SOURCES}"
    )
    required: bool | None = Field(
        None, description="fail instead of skipping when the chart cannot be fetched"
    )


class ContainerSize(Model):
    """A container's requests and limits; an app's namespace's limit range and quota derive from its own."""

    cpu_request: Quantity
    memory_request: Quantity
    cpu_limit: Quantity
    memory_limit: Quantity

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> ContainerSize:
        for resource in ("cpu", "memory"):
            request = getattr(self, f"{resource}_request")
            limit = getattr(self, f"{resource}_limit")
            if quantity.parse(limit) < quantity.parse(request):
                raise ValueError(f"{resource}Limit {limit} is below {resource}Request {request}")
        return self


class Slo(Model):
    """Service level objectives over gRPC requests; alerts burn against these budgets."""

    availability: Annotated[float, Field(gt=90, lt=100)] = 99.9  # % of requests not failing server-side
    latency_threshold: LatencyThreshold = "250ms"  # a request slower than this counts against the latency SLO
    latency_target: Annotated[float, Field(gt=50, lt=100)] = 99.0  # % of requests under the threshold


class Ports(Model):
    """The container ports the platform's network policies open: gRPC to the app's callers, metrics to
    Prometheus. The Deployment's containerPorts named grpc and metrics carry the same numbers."""

    grpc: Port = 50051
    metrics: Port = 9090


class Database(Model):
    name: DnsLabel = Field(description="the app's PostgreSQL database, whose owner role has the same name")


class AppContract(Model):
    """An app's contract with the platform: the file `apps/<app>/app.yaml`, the same in every environment."""

    team: DnsLabel = Field(
        description="the team that owns the app: its namespace, alerts and dashboard say so"
    )
    ports: Ports = Field(default_factory=Ports)
    calls: list[DnsLabel] = Field(
        default_factory=list,
        description="apps this app sends gRPC calls to: the network policies let it reach them, and only "
        "the apps that name an app here reach it",
    )
    slo: Slo = Field(default_factory=Slo)
    database: Database | None = Field(
        None,
        description="a PostgreSQL database: the platform tells the app where it is (the ConfigMap "
        "`database` in its namespace) and Vault issues its users",
    )
    vault_agent: bool = Field(
        False,
        description="the app's pods carry the Vault Agent (vault.hashicorp.com/agent-inject in its "
        "Deployment): Vault gets a role and policy for the app, its namespace may reach Vault and its "
        "quota counts the agent",
    )

    @model_validator(mode="after")
    def _database_users_come_through_the_agent(self) -> AppContract:
        if self.database is not None and not self.vault_agent:
            raise ValueError(
                "database needs vaultAgent: true (the app's database users come from Vault, through "
                "the agent)"
            )
        return self


class Sizing(Model):
    """An app's overlay (settings.yaml) as the platform reads it: its quota and limit range derive from it."""

    replicas: Annotated[int, Field(ge=1, le=100)]
    min_replicas: Annotated[int, Field(ge=1, le=100)]
    max_replicas: Annotated[int, Field(ge=1, le=100)]
    container: ContainerSize  # the app container's requests and limits

    @model_validator(mode="after")
    def _replicas_within_bounds(self) -> Sizing:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas {self.min_replicas} is above maxReplicas {self.max_replicas}")
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError(
                f"replicas {self.replicas} is outside the autoscaler's bounds "
                f"{self.min_replicas}..{self.max_replicas}"
            )
        return self


class App(AppContract):
    """One app in one environment: its contract and the sizing of its overlay there."""

    sizing: Sizing


class PlatformNamespace(Model):
    pod_security: PodSecurityLevel
    cpu: Quantity
    memory: Quantity
    pods: Annotated[int, Field(ge=1)]


class SyncPolicy(Model):
    automated: bool
    prune: bool
    self_heal: bool

    @model_validator(mode="after")
    def _prune_needs_automation(self) -> SyncPolicy:
        if not self.automated and (self.prune or self.self_heal):
            raise ValueError("prune and selfHeal only apply when automated is true")
        return self


class ArgoCD(Model):
    ha: bool
    repo_url: str = Field(alias="repoURL", pattern=r"^(https://|ssh://|git@)\S+$")
    target_revision: str
    sync: SyncPolicy


class VaultMode(StrEnum):
    DEV = "dev"  # in-memory, unsealed, root token known: for a laptop only
    HA = "ha"  # integrated Raft storage across replicas


class SealType(StrEnum):
    """How Vault unseals. `shamir` needs operators with key shares; the others are the auto-unseal seam:
    the seal stanza's settings come from the stack's encrypted config (meridian:vaultSeal)."""

    SHAMIR = "shamir"
    TRANSIT = "transit"
    AWSKMS = "awskms"
    GCPCKMS = "gcpckms"
    AZUREKEYVAULT = "azurekeyvault"


class DatabaseCredentials(Model):
    default_ttl: Duration
    max_ttl: Duration


class Vault(Model):
    mode: VaultMode
    replicas: Annotated[int, Field(ge=1, le=7)] = 1
    seal: SealType = SealType.SHAMIR
    database_credentials: DatabaseCredentials
    storage: Quantity = "10Gi"

    @model_validator(mode="after")
    def _shape_fits_mode(self) -> Vault:
        if self.mode is VaultMode.DEV and (self.replicas != 1 or self.seal is not SealType.SHAMIR):
            raise ValueError("dev mode runs one unsealed in-memory replica: leave replicas and seal unset")
        if self.mode is VaultMode.HA and self.replicas % 2 == 0:
            raise ValueError(f"replicas {self.replicas}: Raft needs an odd number of voters (3 or 5)")
        return self


class LokiMode(StrEnum):
    SINGLE_BINARY = "singleBinary"
    SIMPLE_SCALABLE = "simpleScalable"


class Loki(Model):
    mode: LokiMode
    replicas: Annotated[int, Field(ge=1, le=20)]
    retention: Duration
    storage: Quantity
    persistence: bool = Field(
        True,
        description="keep logs on a PersistentVolume; false keeps them in the pod (lost on restart), "
        "for clusters without a StorageClass",
    )

    @model_validator(mode="after")
    def _shape_fits_mode(self) -> Loki:
        # The chart refuses these itself, but only after a 15-minute atomic install has been rolled back.
        if self.mode is LokiMode.SINGLE_BINARY and self.replicas != 1:
            raise ValueError(
                f"replicas {self.replicas}: singleBinary keeps its logs on the filesystem, and the chart "
                "cannot run more than 1 single-binary replica without object storage; use simpleScalable"
            )
        if self.mode is LokiMode.SIMPLE_SCALABLE and not self.persistence:
            raise ValueError(
                "persistence false is for singleBinary only: simpleScalable's write path needs volumes"
            )
        return self


class AlertRoute(Model):
    """Where Alertmanager sends alerts of one severity; the webhook URL itself is a stack secret."""

    receiver: DnsLabel
    severity: Annotated[str, Field(pattern=r"^(page|ticket|info)$")]
    repeat_interval: Duration = "4h"


class Observability(Model):
    prometheus_replicas: Annotated[int, Field(ge=1, le=5)]
    retention: Duration
    storage: Quantity
    alertmanager_replicas: Annotated[int, Field(ge=1, le=5)]
    grafana_replicas: Annotated[int, Field(ge=1, le=5)] = 1
    alert_routes: list[AlertRoute] = Field(default_factory=list)
    loki: Loki


class PlatformSpec(Model):
    """One environment's platform: the file `environments/<name>/platform.yaml`."""

    name: DnsLabel
    cluster: Cluster
    network: Network
    argocd: ArgoCD
    platform_namespaces: dict[DnsLabel, PlatformNamespace]
    vault: Vault
    observability: Observability
    charts: dict[str, ChartOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _platform_namespaces_present(self) -> PlatformSpec:
        missing = [n for n in REQUIRED_PLATFORM_NAMESPACES if n not in self.platform_namespaces]
        if missing:
            raise ValueError(
                f"platformNamespaces must include {', '.join(missing)} (platform components run there)"
            )
        return self

    @model_validator(mode="after")
    def _charts_are_pinned_ones(self) -> PlatformSpec:
        for key in self.charts:
            if key not in CHARTS:
                raise ValueError(f"charts.{key} is not a chart of the platform (charts: {', '.join(CHARTS)})")
        return self


@dataclass(frozen=True)
class AppProblem:
    """Something wrong between apps of one environment, found in `app`'s contract at `field`."""

    app: str
    field: list[str]
    message: str


def app_problems(apps: Mapping[str, AppContract], platform_namespaces: Iterable[str]) -> list[AppProblem]:
    """What is wrong between an environment's apps: calls to apps it does not run, and names taken."""
    problems = []
    reserved = set(platform_namespaces)
    for name, app in apps.items():
        for index, target in enumerate(app.calls):
            if target == name:
                problems.append(AppProblem(name, ["calls", str(index)], "names the app itself"))
            elif target not in apps:
                problems.append(
                    AppProblem(
                        name,
                        ["calls", str(index)],
                        f"names {target!r}, which does not run in this environment "
                        f"(its apps: {', '.join(sorted(apps))})",
                    )
                )
        if name in reserved:
            problems.append(AppProblem(name, [], f"{name} is both an app and a platform namespace"))
    return problems


class EnvironmentSpec(PlatformSpec):
    """One environment: its platform and, by name, every app that runs in it (one per overlay folder)."""

    apps: dict[DnsLabel, App] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _apps_fit_together(self) -> EnvironmentSpec:
        problems = app_problems(self.apps, self.platform_namespaces)
        if problems:
            raise ValueError("; ".join(f"apps.{'.'.join([p.app, *p.field])}: {p.message}" for p in problems))
        return self
