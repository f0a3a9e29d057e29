"""Kubernetes objects as plain manifests, and the one place that turns a manifest into a Pulumi resource.

Components build manifests (dicts in Kubernetes' own camelCase) with small pure functions that tests
can read directly; `declare` hands each to the matching pulumi-kubernetes class, so what `pulumi up`
creates and what `meridian render` writes are the same documents.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

Manifest = dict[str, Any]

PART_OF = {"app.kubernetes.io/part-of": "meridian", "app.kubernetes.io/managed-by": "pulumi"}
TIER_LABEL = "meridian.dev/tier"
TEAM_LABEL = "meridian.dev/team"
ENVIRONMENT_LABEL = "meridian.dev/environment"

# The kinds declared with pulumi-kubernetes' typed classes, by API version and the module holding
# them; every other kind is a CustomResource.
_TYPED_KINDS: dict[str, tuple[ModuleType, tuple[str, ...]]] = {
    "v1": (
        k8s.core.v1,
        ("Namespace", "ResourceQuota", "LimitRange", "ConfigMap", "Secret", "ServiceAccount", "Service"),
    ),
    "apps/v1": (k8s.apps.v1, ("Deployment",)),
    "policy/v1": (k8s.policy.v1, ("PodDisruptionBudget",)),
    "networking.k8s.io/v1": (k8s.networking.v1, ("NetworkPolicy",)),
    "rbac.authorization.k8s.io/v1": (k8s.rbac.v1, ("ClusterRole", "ClusterRoleBinding")),
    "admissionregistration.k8s.io/v1": (k8s.admissionregistration.v1, ("ValidatingWebhookConfiguration",)),
}
_TYPED: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    (api_version, kind): getattr(module, kind)
    for api_version, (module, kinds) in _TYPED_KINDS.items()
    for kind in kinds
}


def manifest(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **body: Any,
) -> Manifest:
    metadata: dict[str, Any] = {"name": name, "labels": {**PART_OF, **(labels or {})}}
    if namespace is not None:
        metadata["namespace"] = namespace
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def restricted_container(uid: int | None = None) -> dict[str, Any]:
    """A container `securityContext` at the Pod Security Standards' restricted level, read-only root
    filesystem included; `uid` names the user and group where the image's own are not numeric."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        **({"runAsUser": uid, "runAsGroup": uid} if uid is not None else {}),
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resource_name(obj: Manifest) -> str:
    """A logical name unique per kind: `namespace/name`, or `name` for cluster-scoped objects."""
    metadata = obj["metadata"]
    return f"{metadata['namespace']}/{metadata['name']}" if "namespace" in metadata else metadata["name"]


def declare(obj: Manifest, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """The Pulumi resource for one manifest: the typed class where there is one, else a CustomResource."""
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    name = resource_name(obj)
    typed = _TYPED.get((obj["apiVersion"], obj["kind"]))
    if typed is not None:
        return typed(name, opts=opts, **body)
    return k8s.apiextensions.CustomResource(
        name, api_version=obj["apiVersion"], kind=obj["kind"], opts=opts, **body
    )
