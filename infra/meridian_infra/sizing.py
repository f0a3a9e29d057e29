"""How big an app namespace's ResourceQuota and LimitRange are, derived from the spec's t-shirt sizes.

A quota must fit the app at its largest (HPA maxReplicas) plus a rolling update's surge, with every
pod's sidecars counted; anything tighter makes a deployment hang half-way, anything looser lets a
runaway app starve its neighbours.
"""

from __future__ import annotations

import math
from fractions import Fraction

from meridian_infra.spec import quantity
from meridian_infra.spec.models import ContainerSize

# Kubernetes' default maxSurge for a RollingUpdate Deployment, rounded up as the controller does.
ROLLING_UPDATE_SURGE = 0.25


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
    """LimitRange for containers: defaults from the size, and no container larger than the size's limits."""
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
