"""How big an app namespace's ResourceQuota and LimitRange are, derived from the app container's
resources and autoscaling bounds in its overlay (settings.yaml), and how big the platform's own
containers are.

A quota must fit the app at its largest (HPA maxReplicas) plus a rolling update's surge, with every
pod's sidecars counted; anything tighter makes a deployment hang half-way, anything looser lets a
runaway app starve its neighbours.
"""

from __future__ import annotations

import math
from fractions import Fraction

from meridian_core import quantity

from meridian_infra.spec.models import ContainerSize

# Kubernetes' default maxSurge for a RollingUpdate Deployment, rounded up as the controller does.
ROLLING_UPDATE_SURGE = 0.25
# The Vault Agent sidecar in the pods of apps whose contract says vaultAgent: the injector gives
# every agent these (vault/release.py, injector.agentDefaults), and each pod's share of the quota
# counts them.
VAULT_AGENT = ContainerSize(cpu_request="10m", memory_request="32Mi", cpu_limit="50m", memory_limit="64Mi")


def pods_at_peak(max_replicas: int) -> int:
    return max_replicas + math.ceil(max_replicas * ROLLING_UPDATE_SURGE)


def app_quota(size: ContainerSize, max_replicas: int, sidecar: ContainerSize | None = None) -> dict[str, str]:
    """ResourceQuota `hard` for one app: (app container + sidecar) x pods at peak."""
    pods = pods_at_peak(max_replicas)
    hard = {"pods": str(pods)}
    for field, key in (
        ("cpu_request", "requests.cpu"),
        ("memory_request", "requests.memory"),
        ("cpu_limit", "limits.cpu"),
        ("memory_limit", "limits.memory"),
    ):
        per_pod = quantity.parse(getattr(size, field))
        if sidecar is not None:
            per_pod += quantity.parse(getattr(sidecar, field))
        hard[key] = _format(per_pod * pods, getattr(size, field))
    return hard


def container_limits(size: ContainerSize) -> dict[str, dict[str, str]]:
    """LimitRange for containers: defaults from the app container's, and none larger than its limits."""
    return {
        "default": {"cpu": size.cpu_limit, "memory": size.memory_limit},
        "defaultRequest": {"cpu": size.cpu_request, "memory": size.memory_request},
        "max": {"cpu": size.cpu_limit, "memory": size.memory_limit},
    }


def _format(value: Fraction, like: str) -> str:
    """Write a computed amount in the unit of the size it came from (cores as millicores, Mi as Mi)."""
    for suffix, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if like.endswith(suffix):
            return f"{math.ceil(value / factor)}{suffix}"
    if like.endswith("m") or value.denominator != 1:
        return f"{math.ceil(value * 1000)}m"
    return str(int(value))


# Platform components: every container a chart runs gets explicit requests and limits, so none
# falls back to its namespace's LimitRange default (500m / 512Mi whatever the component does).
# Classes by what the component does; Prometheus and Vault follow the spec (below).
SIDECAR = ContainerSize(cpu_request="10m", memory_request="32Mi", cpu_limit="100m", memory_limit="64Mi")
CONTROLLER = ContainerSize(cpu_request="50m", memory_request="64Mi", cpu_limit="250m", memory_limit="256Mi")
SERVICE = ContainerSize(cpu_request="100m", memory_request="256Mi", cpu_limit="500m", memory_limit="512Mi")
WORKER = ContainerSize(cpu_request="200m", memory_request="384Mi", cpu_limit="1", memory_limit="1Gi")
LOG_STORE = ContainerSize(cpu_request="250m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi")

# Prometheus holds its head block and the index of what it retains in memory; the volume the spec
# gives it is what it keeps, so memory follows the volume: 2% of it, within these bounds.
PROMETHEUS_MEMORY_SHARE = Fraction(2, 100)
PROMETHEUS_MEMORY_MIN = 512 * 2**20
PROMETHEUS_MEMORY_MAX = 8 * 2**30
PROMETHEUS_CPU_PER_GI = Fraction(1, 4)  # a quarter of a core per GiB of memory, at least 200m


def prometheus_size(storage: str) -> ContainerSize:
    memory = quantity.parse(storage) * PROMETHEUS_MEMORY_SHARE
    memory = min(max(memory, Fraction(PROMETHEUS_MEMORY_MIN)), Fraction(PROMETHEUS_MEMORY_MAX))
    mib = math.ceil(memory / 2**20)
    cpu = max(Fraction(1, 5), Fraction(mib, 1024) * PROMETHEUS_CPU_PER_GI)
    return ContainerSize(
        cpu_request=f"{math.ceil(cpu * 1000)}m",
        memory_request=f"{mib}Mi",
        cpu_limit=f"{math.ceil(cpu * 4000)}m",
        memory_limit=f"{mib * 2}Mi",
    )


def vault_server_size(ha: bool) -> ContainerSize:
    """Dev mode holds nothing; a Raft voter holds the whole data set and its log."""
    if not ha:
        return ContainerSize(
            cpu_request="50m", memory_request="128Mi", cpu_limit="500m", memory_limit="256Mi"
        )
    return ContainerSize(cpu_request="200m", memory_request="256Mi", cpu_limit="1", memory_limit="512Mi")


def resources(size: ContainerSize) -> dict[str, dict[str, str]]:
    """A container's `resources` block, as chart values take it."""
    return {
        "requests": {"cpu": size.cpu_request, "memory": size.memory_request},
        "limits": {"cpu": size.cpu_limit, "memory": size.memory_limit},
    }
