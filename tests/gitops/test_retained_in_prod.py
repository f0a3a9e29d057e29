"""prod's sync policy through the real loop: automated but never pruning, so an object removed from
git stays in the cluster and the Application reports OutOfSync until someone prunes by hand.

The local cluster is one cluster: dev's ApplicationSet is deleted (its Applications with it and,
through Argo CD's resources finalizer, their workloads) before prod's AppProject and ApplicationSet
are applied, as the program renders them; prod's ApplicationSet yields exactly one Application per
app."""

from __future__ import annotations

import time

import pytest
from gitops_loop import (
    POLL_S,
    SYNC_SLACK_S,
    Loop,
    assert_one_application_per_app,
    hand_over_alone,
    summary,
    wait_until,
)

pytestmark = pytest.mark.slow

ENV = "prod"
PROBE = """\
# A ConfigMap that lives in git only for this test.
apiVersion: v1
kind: ConfigMap
metadata:
  name: prune-probe
data:
  purpose: removed from git to show that prod does not prune
"""


def test_prod_keeps_an_object_removed_from_git_and_reports_out_of_sync(loop: Loop) -> None:
    overlay = f"environments/{ENV}/apps/orders"
    kustomization_path = f"{overlay}/kustomization.yaml"
    original = loop.clone.read(kustomization_path)

    def add_probe() -> None:
        loop.clone.write(f"{overlay}/prune-probe.yaml", PROBE)
        loop.clone.write(
            kustomization_path, original.replace("resources:\n", "resources:\n  - prune-probe.yaml\n", 1)
        )

    loop.clone.merge_branch("prod-probe", "orders in prod gets a probe ConfigMap", add_probe)
    with loop.api() as api:
        hand_over_alone(loop, api, ENV)
        assert_one_application_per_app(loop, api, ENV, 2 * POLL_S + SYNC_SLACK_S)
        probe = "/api/v1/namespaces/orders/configmaps/prune-probe"
        wait_until(
            lambda: (
                api.exists(probe) and loop.application(api, "orders")["status"]["sync"]["status"] == "Synced"
            ),
            "prod's orders Synced with the probe",
            2 * POLL_S + SYNC_SLACK_S + 120,
            lambda: summary(loop.application(api, "orders")),
        )
        assert loop.application(api, "orders")["spec"]["project"] == f"meridian-{ENV}"

        def remove_probe() -> None:
            (loop.clone.path / overlay / "prune-probe.yaml").unlink()
            loop.clone.write(kustomization_path, original)

        loop.clone.merge_branch(
            "prod-probe-removal", "orders in prod drops the probe ConfigMap", remove_probe
        )

        def out_of_sync_with_probe_to_prune() -> bool:
            status = loop.application(api, "orders")["status"]
            waiting = [r for r in status.get("resources", []) if r["name"] == "prune-probe"]
            return (
                status["sync"]["status"] == "OutOfSync"
                and bool(waiting)
                and waiting[0].get("requiresPruning")
            )

        wait_until(
            out_of_sync_with_probe_to_prune,
            "orders OutOfSync with the probe to prune",
            2 * POLL_S + SYNC_SLACK_S,
            lambda: summary(loop.application(api, "orders")),
        )
        # Three more polls, each one an automated sync attempt: still nothing is pruned.
        time.sleep(3 * POLL_S)
        assert out_of_sync_with_probe_to_prune(), summary(loop.application(api, "orders"))
        assert api.exists(probe)
