"""dev through the real loop: Argo CD's controllers read the served repository and sync the local
cluster. The tests build on each other in order (first sync, promotion, self-heal, rollback), as
the loop is one shared cluster."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from gitops_loop import POLL_S, SYNC_SLACK_S, Loop, summary, sync_and_health, wait_until
from meridian_infra.argocd import KUSTOMIZE_BUILD_OPTIONS

from meridian.cluster.api import KubeApi
from meridian.cluster.gitops_components import NAMESPACE, GitOpsPorts
from meridian.promote.versions import Pin, read_pin, write_pin

pytestmark = pytest.mark.slow

ENV = "dev"
APPS = ("inventory", "orders")
# From a fresh `up`: the ApplicationSet's generation, two renders and two syncs, kwok's pods.
FIRST_SYNC_S = 300.0
# A merged change reaches the cluster within one poll of the controller (and of the repo-server's
# cache of the branch's commit) plus a render and a sync.
PROMOTION_BOUND_S = 2 * POLL_S + SYNC_SLACK_S


def _version_file(app: str) -> str:
    return f"environments/{ENV}/apps/{app}/version.yaml"


def _image(api: KubeApi, app: str) -> str:
    deployment = api.get(f"/apis/apps/v1/namespaces/{app}/deployments/{app}")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c["image"] for c in containers if c["name"] == app)


def _rolled_out_with(api: KubeApi, app: str, image: str) -> bool:
    deployment = api.get(f"/apis/apps/v1/namespaces/{app}/deployments/{app}")
    status = deployment.get("status", {})
    return (
        _image(api, app) == image
        and status.get("observedGeneration") == deployment["metadata"]["generation"]
        and status.get("updatedReplicas") == status.get("replicas") == status.get("availableReplicas")
    )


def _synced_healthy(loop: Loop, api: KubeApi, app: str) -> bool:
    return sync_and_health(loop.application(api, app)) == ("Synced", "Healthy")


def _wait_synced_healthy(loop: Loop, api: KubeApi, app: str, timeout_s: float) -> float:
    return wait_until(
        lambda: _synced_healthy(loop, api, app),
        f"Application {app} Synced and Healthy",
        timeout_s,
        lambda: summary(loop.application(api, app)),
    )


def _wait_image(api: KubeApi, app: str, image: str, what: str, *, rolled_out: bool = True) -> float:
    """Seconds until the Deployment runs `image` (rolled out, unless only its spec matters)."""
    return wait_until(
        lambda: _rolled_out_with(api, app, image) if rolled_out else _image(api, app) == image,
        what,
        PROMOTION_BOUND_S,
        lambda: _image(api, app),
    )


def _pinned(loop: Loop, app: str) -> Pin:
    return read_pin(loop.clone.read(_version_file(app)), app, _version_file(app))


def test_the_applicationset_yields_one_synced_healthy_application_per_app_running_the_pinned_digests(
    loop: Loop,
) -> None:
    with loop.api() as api:
        wait_until(
            lambda: {a["metadata"]["name"] for a in loop.applications(api)} == set(APPS),
            "one Application per dev app",
            FIRST_SYNC_S,
            lambda: str([a["metadata"]["name"] for a in loop.applications(api)]),
        )
        applications = {a["metadata"]["name"]: a for a in loop.applications(api)}
        for app in APPS:
            _wait_synced_healthy(loop, api, app, FIRST_SYNC_S)
            wait_until(
                lambda app=app: _rolled_out_with(api, app, _pinned(loop, app).image),
                f"{app} rolled out",
                FIRST_SYNC_S,
                lambda app=app: _image(api, app),
            )
    assert len(applications) == len(APPS)
    for app, application in applications.items():
        spec: dict[str, Any] = application["spec"]
        assert spec["project"] == f"meridian-{ENV}"
        assert spec["destination"] == {"server": "https://kubernetes.default.svc", "namespace": app}
        assert spec["source"]["path"] == f"environments/{ENV}/apps/{app}"
        assert spec["source"]["repoURL"].startswith("git://127.0.0.1:")
        assert application["metadata"]["labels"]["meridian.dev/environment"] == ENV
        # The pinned digest, not just the tag: what `meridian promote` wrote is what runs.
        assert _pinned(loop, app).digest and _pinned(loop, app).digest in _pinned(loop, app).image


def test_cluster_status_shows_every_process_of_the_loop_healthy(loop: Loop) -> None:
    result = loop.cluster.run("cluster", "status", "--local")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    ports = GitOpsPorts.from_base(loop.cluster.port_base)
    expected = {
        "redis-server": ports.redis,
        "git-daemon": ports.git,
        "argocd-repo-server": ports.repo_server,
        "argocd-applicationset-controller": ports.appset_metrics,
        "argocd-application-controller": ports.controller_metrics,
    }
    for name, port in expected.items():
        assert name in rows, result.stdout
        assert " ok " in rows[name] and str(port) in rows[name], rows[name]


def test_argocd_renders_with_the_kustomize_options_of_meridian_render(loop: Loop) -> None:
    with loop.api() as api:
        data = api.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps/argocd-cm")["data"]
    assert data["kustomize.buildOptions"].split() == list(KUSTOMIZE_BUILD_OPTIONS)


def test_a_merged_promotion_reaches_the_cluster_within_the_poll_bound(loop: Loop) -> None:
    app = "orders"
    before = _pinned(loop, app)
    # A synthetic digest (no build has it): dev's fake nodes pull nothing, and dev is not verified.
    promoted = Pin(before.repository, "1.2.0", "sha256:" + hashlib.sha256(b"orders:1.2.0").hexdigest())

    def promote() -> None:
        text = loop.clone.read(_version_file(app))
        loop.clone.write(_version_file(app), write_pin(text, app, promoted, _version_file(app)))

    loop.clone.merge_branch("promote/orders-dev-1.2.0", "Promote orders 1.2.0 to dev", promote)
    with loop.api() as api:
        took = _wait_image(api, app, promoted.image, "the promoted orders digest running")
        _wait_synced_healthy(loop, api, app, SYNC_SLACK_S)
    print(f"\npromotion reached the cluster in {took:.1f}s (bound {PROMOTION_BOUND_S:.0f}s, poll {POLL_S}s)")


def test_dev_self_heal_reverts_a_hand_edit_of_a_deployment(loop: Loop) -> None:
    app = "inventory"
    wanted = _pinned(loop, app).image
    hand_edit = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app, "namespace": app},
        "spec": {
            "template": {"spec": {"containers": [{"name": app, "image": "registry.invalid/hand:edit"}]}}
        },
    }
    with loop.api() as api:
        _wait_synced_healthy(loop, api, app, SYNC_SLACK_S)
        api.apply(f"/apis/apps/v1/namespaces/{app}/deployments/{app}", hand_edit, manager="kubectl-edit")
        assert _image(api, app) == "registry.invalid/hand:edit"
        took = _wait_image(api, app, wanted, "Argo CD reverting the hand edit", rolled_out=False)
        _wait_synced_healthy(loop, api, app, SYNC_SLACK_S)
    print(f"\nself-heal reverted the hand edit in {took:.1f}s")


def test_a_merged_rollback_restores_the_earlier_digest(loop: Loop) -> None:
    app = "orders"
    # The promotion test's merge is the last commit on main; reverting it is the rollback.
    promotion = loop.clone.head()
    promoted = _pinned(loop, app).image
    loop.clone.revert_merge(promotion)
    earlier = _pinned(loop, app).image
    assert earlier != promoted
    with loop.api() as api:
        took = _wait_image(api, app, earlier, "the earlier orders digest running again")
    print(f"\nrollback reached the cluster in {took:.1f}s")
