"""What the platform's admission webhooks do when the API server gets no answer from them.

Three webhooks matter: the Vault Agent injector (it adds the agent that writes an app's database
credentials), the Prometheus operator's (it checks PrometheusRules and AlertmanagerConfigs) and the
policy webhook's for app namespaces (policy_webhook.py: the gate's rules). On the clusters the
platform shares (`cluster.type: existing`, staging and prod) they fail closed: an app pod that
cannot get its Vault Agent is refused rather than started without it, a rule the operator cannot
check is refused rather than loaded unchecked, and nothing reaches an app namespace unjudged.

Failing closed stops more than the webhook's own business unless each webhook is narrowed to what it
serves: the injector to the app namespaces (Vault's own pods, the operators' and kube-system's never
wait for it), the operator's webhook to every namespace but its own (the chart's rules are created in
the same install as the operator, before it can answer; the apps' rules come after the release).

On the clusters Meridian creates on a developer's machine (dev) they fail open. The local control
plane runs no chart's webhook process (kwok only marks the pods ready) and its API server's cluster
egress ends at a proxy that refuses those tunnels, so no call to them can ever succeed: failing
closed would refuse every app pod and every app rule, and `make up` would never finish. The policy
webhook does run there, as a process, but a stopped one must not stop a developer's work either.
On kind the webhooks do run; dev holds no secret worth the difference, and an app pod started
without its agent shows at once (it cannot read /vault/secrets/db.json and never becomes ready).
"""

from __future__ import annotations

from typing import Any

from meridian_infra.objects import TIER_LABEL
from meridian_infra.spec.models import ClusterType, EnvironmentSpec

FAIL = "Fail"
IGNORE = "Ignore"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def failure_policy(spec: EnvironmentSpec) -> str:
    return FAIL if spec.cluster.type is ClusterType.EXISTING else IGNORE


def app_namespaces_only() -> dict[str, Any]:
    """The namespaces the platform labels as apps' (namespaces.py)."""
    return {"matchLabels": {TIER_LABEL: "app"}}


def all_namespaces_but(namespace: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": [namespace]}]}
