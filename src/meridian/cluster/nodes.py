"""Fake worker nodes: Node objects kwok keeps Ready and runs pods on, without any container.

They are untainted and large enough for the whole platform, so workloads need no tolerations and
the scheduler places them as it would on real workers.
"""

from __future__ import annotations

from typing import Any

from meridian.cluster.api import ApiError, KubeApi
from meridian.cluster.components import KWOK_NODE_ANNOTATION

NODE_PREFIX = "kwok-node-"
NODE_LABEL = ("type", "kwok")
# Each node's size; the sum must fit the platform's quotas with room to spare.
RESOURCES = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}


def node_names(count: int) -> list[str]:
    return [f"{NODE_PREFIX}{i}" for i in range(count)]


def node_manifest(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                KWOK_NODE_ANNOTATION[0]: KWOK_NODE_ANNOTATION[1],
                # No node-status caching for fake nodes.
                "node.alpha.kubernetes.io/ttl": "0",
            },
            "labels": {
                NODE_LABEL[0]: NODE_LABEL[1],
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "node-role.kubernetes.io/agent": "",
            },
        },
        "spec": {},
        # A Node is created with its status (as a kubelet registers); kwok then adds conditions.
        "status": {"allocatable": dict(RESOURCES), "capacity": dict(RESOURCES)},
    }


def ensure_nodes(api: KubeApi, count: int) -> list[str]:
    """Create the missing nodes, delete surplus ones from a larger earlier count; return the names."""
    wanted = node_names(count)
    listed = api.get("/api/v1/nodes", params={"labelSelector": "=".join(NODE_LABEL)})
    present = {item["metadata"]["name"] for item in listed.get("items", [])}
    for name in wanted:
        if name in present:
            continue
        try:
            api.create("/api/v1/nodes", node_manifest(name))
        except ApiError as exc:
            if exc.status != 409:  # created meanwhile: fine
                raise
    for name in sorted(present - set(wanted)):
        if name.startswith(NODE_PREFIX):
            api.delete(f"/api/v1/nodes/{name}")
    return wanted


def ready_nodes(api: KubeApi, names: list[str]) -> list[str]:
    listed = api.get("/api/v1/nodes", params={"labelSelector": "=".join(NODE_LABEL)})
    ready = []
    for item in listed.get("items", []):
        conditions = (item.get("status") or {}).get("conditions") or []
        if item["metadata"]["name"] in names and any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
        ):
            ready.append(item["metadata"]["name"])
    return sorted(ready)
