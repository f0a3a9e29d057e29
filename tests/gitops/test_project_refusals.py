"""The AppProject of an environment refuses, with Argo CD's own errors, an Application aimed at a
namespace it does not list and an app that brings a kind the platform reserves."""

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


def test_the_project_refuses_a_kind_the_platform_reserves_and_is_synced_again_once_it_is_gone(
    loop: Loop,
) -> None:
    overlay = f"environments/{ENV}/apps/orders"

    def add_quota() -> None:
        loop.clone.write(f"{overlay}/greedy-quota.yaml", QUOTA)
        kustomization = loop.clone.read(f"{overlay}/kustomization.yaml")
        loop.clone.write(
            f"{overlay}/kustomization.yaml",
            kustomization.replace("resources:\n", "resources:\n  - greedy-quota.yaml\n", 1),
        )

    merge = loop.clone.merge_branch("orders-quota", "orders brings its own quota", add_quota)
    with loop.api() as api:
        wanted = f"resource :ResourceQuota is not permitted in project {PROJECT}"
        wait_until(
            lambda: wanted in summary(loop.application(api, "orders")),
            "Argo CD refusing the ResourceQuota",
            2 * POLL_S + SYNC_SLACK_S,
            lambda: summary(loop.application(api, "orders")),
        )
        assert not api.exists("/api/v1/namespaces/orders/resourcequotas/greedy")
        # The refused sync retries with backoff for minutes; stop it, as an operator would.
        loop.terminate_operation(api, "orders")
        loop.clone.revert_merge(merge)

        def synced_and_idle() -> bool:
            # Git matches the cluster again (the quota was never applied), so no new sync is
            # needed: Synced, with no operation left running.
            status = loop.application(api, "orders")["status"]
            operation = status.get("operationState", {})
            return status["sync"]["status"] == "Synced" and operation.get("phase") not in (
                "Running",
                "Terminating",
            )

        wait_until(
            synced_and_idle,
            "orders Synced again without the quota, no sync running",
            2 * POLL_S + SYNC_SLACK_S,
            lambda: summary(loop.application(api, "orders")),
        )
