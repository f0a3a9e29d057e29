"""Rollbacks and holds, environment locks with break-glass, and bundles, on real git repositories."""

from __future__ import annotations

from datetime import timedelta

from meridian_core.git import parse_trailers
from promote_world import CONFIG, FAST, NOW, T0, World

from meridian.promote.message import records

ORDERS_STAGING = "environments/staging/apps/orders/version.yaml"


def _promoted_to_staging(world: World) -> str:
    """orders 1.1.0 promoted to staging and merged two days ago; returns the merge commit."""
    assert world.cli("promote", "orders", "--to", "staging", *FAST).code == 0
    return world.merge("promote/orders/staging/1.1.0", when=NOW - timedelta(days=2))


def test_rollback_restores_the_previous_bytes_and_holds_the_app(world: World) -> None:
    _promoted_to_staging(world)
    original = world.git("rev-list", "--max-parents=0", "HEAD").strip()  # the T0 commit
    before = world.state()

    result = world.cli("rollback", "orders", "--env", "staging", "--reason", "1.1.0 leaks connections", *FAST)

    assert result.code == 0, result.output
    branch = "rollback/orders/staging/1.0.0"
    assert sorted(world.changed("main", branch)) == [ORDERS_STAGING, "environments/staging/holds.yaml"]
    assert world.file(branch, ORDERS_STAGING) == world.file(original, ORDERS_STAGING)
    holds = world.file(branch, "environments/staging/holds.yaml")
    assert "orders:\n    version: 1.0.0\n    reason: 1.1.0 leaks connections\n" in holds
    assert "by: Pat Promoter <pat@example.com>" in holds
    trailers = world.trailers(branch)
    assert (
        trailers["Meridian-Kind"],
        trailers["Meridian-Version"],
        trailers["Meridian-Previous-Version"],
    ) == (
        "rollback",
        "1.0.0",
        "1.1.0",
    )
    after = world.state()
    assert {k: v for k, v in after.items() if k != "refs"} == {k: v for k, v in before.items() if k != "refs"}


def test_a_held_app_is_not_promoted_until_the_hold_is_released(world: World) -> None:
    _promoted_to_staging(world)
    assert world.cli("rollback", "orders", "--env", "staging", *FAST).code == 0
    world.merge("rollback/orders/staging/1.0.0", when=NOW - timedelta(days=1))
    before = world.state()
    branches_before = world.branches()

    refused = world.cli("promote", "orders", "--to", "staging", *FAST)

    assert refused.code == 1
    assert "MER-PROMO-006 app held after a rollback" in refused.stderr
    assert "--release-hold" in refused.stderr
    assert world.state() == before

    automatic = world.cli("promote", "--all-changed", "--to", "staging", *FAST)

    assert automatic.code == 0, automatic.output
    assert "orders is held at 1.0.0 in staging: rolled back from 1.1.0" in automatic.stdout
    created = {name for name, sha in world.branches().items() if branches_before.get(name) != sha}
    assert created == {"promote/inventory/staging/1.1.0"}  # not orders: it is held

    released = world.cli("promote", "orders", "--to", "staging", "--release-hold", *FAST)

    assert released.code == 0, released.output
    branch = "promote/orders/staging/1.1.0"
    assert sorted(world.changed("main", branch)) == [ORDERS_STAGING, "environments/staging/holds.yaml"]
    assert world.git("ls-tree", "--name-only", branch, "environments/staging/").count("holds.yaml") == 0
    assert world.trailers(branch)["Meridian-Released-Hold"] == "yes"


def test_rollback_to_a_version_never_run_is_refused_and_without_history_is_a_usage_error(
    world: World,
) -> None:
    _promoted_to_staging(world)
    before = world.state()

    unknown = world.cli("rollback", "orders", "--env", "staging", "--to", "0.9.0", *FAST)
    nothing_earlier = world.cli("rollback", "orders", "--env", "prod", *FAST)
    same = world.cli("rollback", "orders", "--env", "staging", "--to", "1.1.0", *FAST)

    assert unknown.code == 1
    assert "MER-PROMO-009" in unknown.stderr
    assert nothing_earlier.code == 2
    assert "git history holds no earlier version of orders in prod than 1.0.0" in nothing_earlier.stderr
    assert same.code == 0
    assert "staging already runs orders 1.1.0" in same.stdout
    assert world.state() == before


def test_a_lock_refuses_promotions_unless_broken_with_a_reason(world: World) -> None:
    world.set_version("staging", "orders", "1.1.0", when=NOW - timedelta(days=2))

    locked = world.cli("lock", "prod", "--reason", "incident 4711: payments degraded")

    assert locked.code == 0, locked.output
    lock_file = world.file("lock/prod", "environments/prod/lock.yaml")
    assert "reason: 'incident 4711: payments degraded'" in lock_file
    assert "since: '2026-06-03T12:00:00Z'" in lock_file
    assert world.trailers("lock/prod")["Meridian-Kind"] == "lock"
    world.merge("lock/prod", when=NOW - timedelta(hours=1))
    before = world.state()

    refused = world.cli("promote", "orders", "--to", "prod", *FAST)
    again = world.cli("lock", "prod", "--reason", "again")

    assert refused.code == 1
    assert (
        "MER-PROMO-005 environment locked: prod is locked since 2026-06-03T12:00:00Z by Pat Promoter"
        in refused.stderr
    )
    assert again.code == 0
    assert "prod is locked already" in again.stdout
    assert world.state() == before

    broken = world.cli(
        "promote", "orders", "--to", "prod", "--break-glass", "the fix for incident 4711", *FAST
    )

    assert broken.code == 0, broken.output
    assert world.trailers("promote/orders/prod/1.1.0")["Meridian-Break-Glass"] == "the fix for incident 4711"
    unlocked = world.cli("unlock", "prod")
    assert unlocked.code == 0
    assert "environments/prod/lock.yaml" in world.changed("main", "unlock/prod")
    assert world.git("ls-tree", "--name-only", "unlock/prod", "environments/prod/").count("lock.yaml") == 0


def test_a_lock_needs_a_reason(world: World) -> None:
    missing = world.cli("lock", "prod")
    blank = world.cli("lock", "prod", "--reason", "  ")

    assert (missing.code, blank.code) == (2, 2)
    assert "a lock needs a reason" in blank.stderr


def _bundled(world: World) -> None:
    world.write_config(CONFIG.replace("bundles: {}", "bundles:\n  commerce: [orders, inventory]"), when=T0)


def test_a_bundle_moves_together_in_one_commit(world: World) -> None:
    _bundled(world)

    result = world.cli("promote", "orders", "--to", "staging", *FAST)

    assert result.code == 0, result.output
    assert "orders belongs to bundle commerce" in result.stderr
    branch = "promote/commerce/staging/1.1.0"
    assert sorted(world.changed("main", branch)) == [
        "environments/staging/apps/inventory/version.yaml",
        ORDERS_STAGING,
    ]
    message = world.git("log", "-1", "--format=%B", branch)
    assert message.startswith("promote bundle commerce to staging (orders 1.1.0, inventory 1.1.0)")
    found = records(parse_trailers(world.git("log", "-1", "--format=%(trailers:only,unfold)", branch)))
    assert [(r.app, r.version, r.previous, r.bundle, r.source) for r in found] == [
        ("orders", "1.1.0", "1.0.0", "commerce", "dev"),
        ("inventory", "1.1.0", "1.0.0", "commerce", "dev"),
    ]


def test_a_bundle_with_one_app_refused_moves_not_at_all(world: World) -> None:
    _bundled(world)
    world.set_version("dev", "inventory", "1.2.0", when=NOW - timedelta(minutes=10))
    before = world.state()

    result = world.cli("promote", "commerce", "--to", "staging", *FAST)

    assert result.code == 1
    assert "bundle commerce (orders 1.1.0, inventory 1.2.0)" in result.stderr
    assert "MER-PROMO-003 soak time not reached: inventory 1.2.0 has run in dev for 10m" in result.stderr
    assert world.state() == before
