"""`meridian status` and `meridian history`: read from the checkout and its git history alone."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import timedelta

from promote_world import FAST, NOW, REPO_ROOT, SATURDAY, T1, World

from meridian.promote.versions import read_pin

RunMeridian = Callable[..., subprocess.CompletedProcess[str]]


def test_status_shows_versions_ages_and_what_is_ready(world: World) -> None:
    world.set_version("staging", "inventory", "1.1.0", when=NOW - timedelta(hours=3))

    result = world.cli("status", "--format", "json")

    assert result.code == 0, result.output
    data = json.loads(result.stdout)
    assert data["order"] == ["dev", "staging", "prod"]
    orders, inventory = data["apps"]["orders"], data["apps"]["inventory"]
    assert orders["dev"]["version"] == "1.1.0"
    assert orders["dev"]["age_seconds"] == int((NOW - T1).total_seconds())
    assert orders["staging"]["next"]["ready"] is True
    assert inventory["staging"]["since"] == "2026-06-03T09:00:00Z"
    assert inventory["prod"]["next"]["ready"] is False
    assert [d["rule"] for d in inventory["prod"]["next"]["denials"]] == ["MER-PROMO-003"]
    assert data["ready"] == [{"app": "orders", "from": "dev", "to": "staging", "version": "1.1.0"}]


def test_status_shows_locks_freezes_and_holds(world: World) -> None:
    # Uncommitted, on purpose: status shows the checkout as it is, like `meridian render`.
    environments = world.root / "environments"
    (environments / "prod" / "lock.yaml").write_text("reason: incident 4711\nby: Ops\nsince: x\n")
    (environments / "staging" / "holds.yaml").write_text(
        "holds:\n  orders: {version: 1.0.0, reason: rolled back from 1.1.0}\n"
    )

    table = world.cli("status", now=SATURDAY)
    markdown = world.cli("status", "--format", "markdown", now=SATURDAY)

    assert table.code == 0, table.output
    assert "prod (locked) (frozen)" in table.stdout
    assert "frozen until 2026-06-08 00:00Z (weekend)" in table.stdout
    assert "held: rolled back from 1.1.0" in table.stdout
    assert "waits: MER-PROMO-006 app held after a rollback" in table.stdout
    assert "Ready to promote: inventory 1.1.0 → staging\n" in table.stdout
    assert "| app | dev | staging | prod |" in markdown.stdout
    assert "- **prod is locked** since x: incident 4711" in markdown.stdout
    assert "✅ ← 1.1.0 ready" in markdown.stdout


def test_history_lists_promotions_and_rollbacks_from_git(world: World) -> None:
    world.set_version("staging", "orders", "1.1.0", when=NOW - timedelta(days=2))
    assert world.cli("promote", "orders", "--to", "prod", "--emergency", "fix", *FAST, now=SATURDAY).code == 0
    world.merge("promote/orders/prod/1.1.0", when=SATURDAY + timedelta(hours=1))
    after = SATURDAY + timedelta(days=1)
    assert (
        world.cli("rollback", "orders", "--env", "prod", "--reason", "p99 doubled", *FAST, now=after).code
        == 0
    )
    world.merge("rollback/orders/prod/1.0.0", when=after + timedelta(hours=1))

    result = world.cli("history", "orders", "--env", "prod", "--format", "json")
    table = world.cli("history", "orders")

    assert result.code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["kind"], r["previous"], r["version"]) for r in rows] == [
        ("rollback", "1.1.0", "1.0.0"),
        ("promotion", "1.0.0", "1.1.0"),
        ("change", None, "1.0.0"),
    ]
    assert rows[0]["landed"] == "2026-06-07T13:00:00Z"  # when the merge landed, not when it was typed
    assert rows[0]["reason"] == "p99 doubled"
    assert (rows[1]["from"], rows[1]["emergency"]) == ("staging", "fix")
    assert table.code == 0
    assert "emergency: fix" in table.stdout
    assert table.stdout.count("\n│") >= 5  # prod's three changes, staging's two, dev's two


def test_history_of_an_unknown_app_is_a_usage_error(world: World) -> None:
    result = world.cli("history", "payments")

    assert result.code == 2
    assert "git history has no version of payments" in result.stderr


def test_status_of_this_repository_shows_its_three_environments(run_meridian: RunMeridian) -> None:
    # The acceptance check: the real checkout, the real CLI process.
    result = run_meridian("status", "--format", "json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["order"] == ["dev", "staging", "prod"]
    for app, envs in data["apps"].items():
        for env, cell in envs.items():
            path = REPO_ROOT / "environments" / env / "apps" / app / "version.yaml"
            assert cell["version"] == read_pin(path.read_text(), app, str(path)).tag
