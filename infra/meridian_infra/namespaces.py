"""Namespaces for platform components and apps, each with Pod Security labels, quota, limits and policies.

App namespaces are `restricted`; platform namespaces get the level the spec gives them (the CNI and
node exporters need `privileged`). Every namespace but the CNI's starts from default-deny.

An app's namespace follows from two files: its contract (apps/<app>/app.yaml: team, ports, calls,
database, Vault Agent) and its overlay's settings.yaml in the environment (replicas, autoscaling
bounds and the container's resources, which Argo CD applies and which size the quota and limit
range here). This module is the one place that turns `calls` into NetworkPolicies; the AppProject
keeps apps from bringing their own (argocd.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from meridian_infra import databases, sizing
from meridian_infra import network_policies as np
from meridian_infra.objects import ENVIRONMENT_LABEL, TEAM_LABEL, TIER_LABEL, Manifest, declare, manifest
from meridian_infra.spec.models import EnvironmentSpec, PodSecurityLevel

PSA_VERSION = "v1.33"
# The CNI's own namespace cannot sit behind policies the CNI enforces.
WITHOUT_DEFAULT_DENY = frozenset({"tigera-operator"})


def namespace(
    name: str, tier: str, level: PodSecurityLevel, environment: str, team: str | None = None
) -> Manifest:
    labels = {
        TIER_LABEL: tier,
        ENVIRONMENT_LABEL: environment,
        # enforce, and also audit and warn so that `kubectl apply` shows violations before they bite
        **{f"pod-security.kubernetes.io/{mode}": level.value for mode in ("enforce", "audit", "warn")},
        **{
            f"pod-security.kubernetes.io/{mode}-version": PSA_VERSION for mode in ("enforce", "audit", "warn")
        },
    }
    if team:
        labels[TEAM_LABEL] = team
    return manifest("v1", "Namespace", name, labels=labels)


def resource_quota(namespace_name: str, hard: dict[str, str]) -> Manifest:
    return manifest("v1", "ResourceQuota", "compute", namespace_name, spec={"hard": hard})


def limit_range(namespace_name: str, limits: dict[str, dict[str, str]]) -> Manifest:
    return manifest(
        "v1",
        "LimitRange",
        "container-defaults",
        namespace_name,
        spec={"limits": [{"type": "Container", **limits}]},
    )


def app_namespace_objects(spec: EnvironmentSpec, app_name: str) -> list[Manifest]:
    app = spec.apps[app_name]
    container = app.sizing.container
    with_vault = app.vault_agent and np.VAULT_NAMESPACE in spec.platform_namespaces
    objects = [
        namespace(app_name, "app", PodSecurityLevel.RESTRICTED, spec.name, team=app.team),
        resource_quota(
            app_name,
            sizing.app_quota(container, app.sizing.max_replicas, sizing.VAULT_AGENT if with_vault else None),
        ),
        limit_range(app_name, sizing.container_limits(container)),
        np.default_deny(app_name),
        np.allow_dns(app_name),
        np.allow_monitoring_scrape(app_name, app.ports.metrics),
    ]
    objects += [
        np.allow_calls_out(app_name, app_name, target, spec.apps[target].ports.grpc) for target in app.calls
    ]
    objects += [
        np.allow_calls_in(app_name, app_name, caller, app.ports.grpc)
        for caller, other in spec.apps.items()
        if app_name in other.calls
    ]
    target = databases.database_targets(spec).get(app_name)
    if target is not None:
        objects.append(databases.connection_config_map(app_name, target))
        if spec.network.database_cidrs:
            objects.append(np.allow_database(app_name, spec.network.database_cidrs))
    if with_vault:
        objects.append(np.allow_vault(app_name))
    objects.append(np.allow_otlp(app_name))
    return objects


def platform_namespace_objects(spec: EnvironmentSpec, name: str) -> list[Manifest]:
    settings = spec.platform_namespaces[name]
    objects = [
        namespace(name, "platform", settings.pod_security, spec.name),
        resource_quota(
            name,
            {
                "requests.cpu": settings.cpu,
                "requests.memory": settings.memory,
                "pods": str(settings.pods),
            },
        ),
        limit_range(
            name,
            {
                "default": {"cpu": "500m", "memory": "512Mi"},
                "defaultRequest": {"cpu": "50m", "memory": "64Mi"},
            },
        ),
    ]
    if name in WITHOUT_DEFAULT_DENY:
        return objects
    objects += [
        np.default_deny(name),
        np.allow_dns(name),
        np.allow_same_namespace(name),
        np.allow_api_server(name, spec.network.api_server_cidrs),
    ]
    if name == "argocd":
        objects.append(np.allow_git(name))
    if name == np.MONITORING_NAMESPACE:
        objects += [
            np.allow_scrape_everywhere(name),
            np.allow_node_scrape(name),
            np.allow_otlp_from_apps(name),
        ]
    if name == np.VAULT_NAMESPACE:
        objects += np.allow_vault_clients(name, spec.network.database_cidrs)
    objects += np.allow_webhooks(name)
    return objects


@dataclass(frozen=True)
class NamespaceOutputs:
    names: list[str]
    quotas: dict[str, dict[str, str]]


class Namespaces(pulumi.ComponentResource):
    """Every namespace of the environment with its quota, limit range and network policies."""

    def __init__(self, spec: EnvironmentSpec, opts: pulumi.ResourceOptions) -> None:
        super().__init__("meridian:platform:Namespaces", "namespaces", None, opts)
        self.namespaces: dict[str, pulumi.CustomResource] = {}
        quotas: dict[str, dict[str, str]] = {}
        groups = [(n, platform_namespace_objects(spec, n)) for n in spec.platform_namespaces]
        groups += [(n, app_namespace_objects(spec, n)) for n in spec.apps]
        for name, objects in groups:
            ns_object, *rest = objects
            ns = declare(ns_object, pulumi.ResourceOptions(parent=self))
            self.namespaces[name] = ns
            for obj in rest:
                declare(obj, pulumi.ResourceOptions(parent=self, depends_on=[ns]))
                if obj["kind"] == "ResourceQuota":
                    quotas[name] = obj["spec"]["hard"]
        self.outputs = NamespaceOutputs(names=[n for n, _ in groups], quotas=quotas)
        self.register_outputs({"namespaces": self.outputs.names})
