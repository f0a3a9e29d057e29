"""Whether an app's rendered manifests (its overlay, as Argo CD builds it) say what the platform
read: the sizing from the overlay's settings.yaml, and what the app's contract says of its pods.

The platform sizes an app's namespace from settings.yaml without running Kustomize, so another patch
of the overlay that changed replicas, the HPA's bounds or the container's resources would make the
two disagree; and the Deployment's container ports, Vault Agent annotation and database ConfigMap
are how the pods keep the contract's word. `meridian render` refuses an app whose render differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meridian_core import layout, quantity

from meridian_infra.databases import CONFIG_MAP
from meridian_infra.spec.models import App

AGENT_INJECT = "vault.hashicorp.com/agent-inject"


def rendered_app_problems(env: str, name: str, app: App, objects: Iterable[dict[str, Any]]) -> list[str]:
    """What differs between the render of `name` in `env` and what the platform read of it."""
    found = {(o.get("kind"), o.get("metadata", {}).get("name")): o for o in objects}
    settings, contract = layout.settings_path(env, name), layout.app_path(name, layout.CONTRACT_FILE)
    deployment, autoscaler = found.get(("Deployment", name)), found.get(("HorizontalPodAutoscaler", name))
    if deployment is None or autoscaler is None:
        return [f"renders no Deployment and HorizontalPodAutoscaler named {name}, which {settings} sizes"]
    pod = deployment.get("spec", {}).get("template", {})
    containers: list[dict[str, Any]] = pod.get("spec", {}).get("containers", [])
    container = next((c for c in containers if c.get("name") == name), {})
    sizing = app.sizing
    problems = []
    rendered = {
        "replicas": deployment.get("spec", {}).get("replicas"),
        "minReplicas": autoscaler.get("spec", {}).get("minReplicas"),
        "maxReplicas": autoscaler.get("spec", {}).get("maxReplicas"),
    }
    read: dict[str, Any] = {
        "replicas": sizing.replicas,
        "minReplicas": sizing.min_replicas,
        "maxReplicas": sizing.max_replicas,
    }
    resources = container.get("resources", {})
    for key, field in (
        ("requests.cpu", "cpu_request"),
        ("requests.memory", "memory_request"),
        ("limits.cpu", "cpu_limit"),
        ("limits.memory", "memory_limit"),
    ):
        group, resource = key.split(".")
        rendered[f"resources.{key}"] = resources.get(group, {}).get(resource)
        read[f"resources.{key}"] = getattr(sizing.container, field)
    for key, value in read.items():
        if not _same(rendered[key], value):
            problems.append(
                f"renders {key} {rendered[key]}, but {settings} says {value}: the platform sizes the "
                "namespace from that file, so give replicas, autoscaling bounds and resources there only"
            )
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    for port, number in (("grpc", app.ports.grpc), ("metrics", app.ports.metrics)):
        if ports.get(port) != number:
            problems.append(
                f"the container's port {port} is {ports.get(port)}, but {contract} says ports.{port}: "
                f"{number}, which the network policies open"
            )
    injected = pod.get("metadata", {}).get("annotations", {}).get(AGENT_INJECT) == "true"
    if injected != app.vault_agent:
        problems.append(
            f"the pods {'carry' if injected else 'do not carry'} the Vault Agent ({AGENT_INJECT}), but "
            f"{contract} says vaultAgent: {str(app.vault_agent).lower()}"
        )
    reads_database = {"configMapRef": {"name": CONFIG_MAP}} in container.get("envFrom", [])
    if reads_database != (app.database is not None):
        problems.append(
            f"the container {'reads' if reads_database else 'does not read'} the ConfigMap {CONFIG_MAP} "
            f"(envFrom), but {contract} {'names a' if app.database else 'names no'} database"
        )
    return problems


def _same(rendered: Any, read: Any) -> bool:
    if isinstance(read, str):
        return (
            rendered is not None
            and quantity.is_quantity(str(rendered))
            and (quantity.parse(str(rendered)) == quantity.parse(read))
        )
    return bool(rendered == read)
