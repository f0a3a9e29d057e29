"""The AppProject of an environment refuses, with Argo CD's own errors, an Application aimed at a
namespace it does not list and an app that brings kinds the platform reserves (a ResourceQuota and
a NetworkPolicy: the platform owns both in app namespaces)."""

from __future__ import annotations

import pytest
from gitops_loop import APPS_PATH, POLL_S, SYNC_SLACK_S, Loop, summary, wait_until

pytestmark = pytest.mark.slow

ENV = "dev"
PROJECT = f"meridian-{ENV}"
QUOTA = """\
# Not the app's to declare: the platform owns quotas in app namespaces.
apiVersion: v1
kind: ResourceQuota
metadata:
  name: greedy
spec:
  hard:
    pods: "1000"
"""
OPEN_DOORS = """\
# Not the app's to declare either: it would widen "only orders may call inventory".
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: open-doors
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - {}
"""


def _conditions(app: dict) -> list[str]:
    return [c.get("message", "") for c in app.get("status", {}).get("conditions", [])]


def test_the_project_refuses_an_application_for_a_namespace_it_does_not_allow(loop: Loop) -> None:
    with loop.api() as api:
        orders = loop.application(api, "orders")
        stray = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "stray", "namespace": "argocd"},
            "spec": {
                "project": PROJECT,
                "source": orders["spec"]["source"],
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "kube-system"},
            },
        }
        api.apply(f"{APPS_PATH}/stray", stray, manager="tests")
        try:
            wanted = (
                "application destination server 'https://kubernetes.default.svc' and namespace "
                f"'kube-system' do not match any of the allowed destinations in project '{PROJECT}'"
            )
            wait_until(
                lambda: wanted in _conditions(loop.application(api, "stray")),
                "Argo CD refusing the destination",
                SYNC_SLACK_S,
                lambda: summary(loop.application(api, "stray")),
            )
            assert not api.get("/apis/apps/v1/namespaces/kube-system/deployments").get("items")
        finally:
            api.delete(f"{APPS_PATH}/stray")


def test_the_project_refuses_kinds_the_platform_reserves_and_is_synced_again_once_they_are_gone(
    loop: Loop,
) -> None:
    overlay = f"environments/{ENV}/apps/orders"

    def add_reserved_kinds() -> None:
        loop.clone.write(f"{overlay}/greedy-quota.yaml", QUOTA)
        loop.clone.write(f"{overlay}/open-doors.yaml", OPEN_DOORS)
        kustomization = loop.clone.read(f"{overlay}/kustomization.yaml")
        loop.clone.write(
            f"{overlay}/kustomization.yaml",
            kustomization.replace(
                "resources:\n", "resources:\n  - greedy-quota.yaml\n  - open-doors.yaml\n", 1
            ),
        )

    merge = loop.clone.merge_branch(
        "orders-reserved-kinds", "orders brings its own quota and network policy", add_reserved_kinds
    )
    with loop.api() as api:
        # Argo CD names each refused object's group and kind (the core group is empty).
        wanted = [
            f"resource :ResourceQuota is not permitted in project {PROJECT}",
            f"resource networking.k8s.io:NetworkPolicy is not permitted in project {PROJECT}",
        ]
        wait_until(
            lambda: all(w in summary(loop.application(api, "orders")) for w in wanted),
            "Argo CD refusing the ResourceQuota and the NetworkPolicy",
            2 * POLL_S + SYNC_SLACK_S,
            lambda: summary(loop.application(api, "orders")),
        )
        assert not api.exists("/api/v1/namespaces/orders/resourcequotas/greedy")
        assert not api.exists("/apis/networking.k8s.io/v1/namespaces/orders/networkpolicies/open-doors")
        # The refused sync retries with backoff for minutes; stop it, as an operator would.
        loop.terminate_operation(api, "orders")
        loop.clone.revert_merge(merge)

        def synced_and_idle() -> bool:
            # Git matches the cluster again (neither object was ever applied), so no new sync is
            # needed: Synced, with no operation left running.
            status = loop.application(api, "orders")["status"]
            operation = status.get("operationState", {})
            return status["sync"]["status"] == "Synced" and operation.get("phase") not in (
                "Running",
                "Terminating",
            )

        wait_until(
            synced_and_idle,
            "orders Synced again without the quota and the policy, no sync running",
            2 * POLL_S + SYNC_SLACK_S,
            lambda: summary(loop.application(api, "orders")),
        )
