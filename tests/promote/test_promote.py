"""`meridian promote` on real git repositories: what it commits, what it refuses, and that every
refusal leaves HEAD, branches, index and working tree exactly as they were."""

from __future__ import annotations

from datetime import timedelta

from promote_world import FAST, NOW, SATURDAY, T1, World, synthetic_digest


def test_a_promotion_commits_only_the_version_on_a_new_branch(world: World) -> None:
    before = world.state()
    staging_before = world.file("HEAD", "environments/staging/apps/orders/version.yaml")

    result = world.cli("promote", "orders", "--to", "staging", *FAST)

    assert result.code == 0, result.output
    branch = "promote/orders/staging/1.1.0"
    assert branch in world.branches()
    assert world.changed("main", branch) == ["environments/staging/apps/orders/version.yaml"]
    pin = world.version("staging", "orders", branch)
    assert (pin.tag, pin.digest, pin.label) == ("1.1.0", synthetic_digest("orders", "1.1.0"), "1.1.0")
    # Only the two version fields changed: the comment and every other line are the same bytes.
    after = world.file(branch, "environments/staging/apps/orders/version.yaml")
    changed_lines = [
        (a, b) for a, b in zip(staging_before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert [b.strip() for _, b in changed_lines] == [
        'app.kubernetes.io/version: "1.1.0"',
        f"image: ghcr.io/meridian-platform/orders:1.1.0@{synthetic_digest('orders', '1.1.0')}",
    ]
    assert world.trailers(branch) == {
        "Meridian-Kind": "promotion",
        "Meridian-From": "dev",
        "Meridian-To": "staging",
        "Meridian-Gate": "conftest,secrets",
        "Meridian-App": "orders",
        "Meridian-Version": "1.1.0",
        "Meridian-Digest": synthetic_digest("orders", "1.1.0"),
        "Meridian-Previous-Version": "1.0.0",
        "Meridian-Previous-Digest": synthetic_digest("orders", "1.0.0"),
    }
    subject = world.git("log", "-1", "--format=%s%n%b", branch)
    assert subject.startswith("promote orders 1.1.0 to staging\n")
    assert "as dev runs it since 2026-06-01T10:00:00Z" in subject
    assert "Policy gate (conftest, secrets): staging: passed" in subject
    # The user's checkout did not move: the branch is new, nothing else is.
    after_state = world.state()
    assert after_state["refs"] != before["refs"]
    assert {k: v for k, v in after_state.items() if k != "refs"} == {
        k: v for k, v in before.items() if k != "refs"
    }
    assert f"git push origin {branch}" in result.stdout
    assert "policy gate: staging: passed" in result.stdout


def test_skipping_an_environment_is_refused_and_changes_nothing(world: World) -> None:
    before = world.state()

    by_version = world.cli("promote", "orders", "--to", "prod", "--version", "1.1.0", *FAST)
    by_source = world.cli("promote", "orders", "--from", "dev", "--to", "prod", *FAST)

    assert by_version.code == 1
    assert "MER-PROMO-001" in by_version.stderr
    assert "orders 1.1.0 runs in dev but not in staging; promote it to staging first" in by_version.stderr
    assert by_source.code == 1
    assert "MER-PROMO-001" in by_source.stderr
    assert "Traceback" not in by_version.stderr + by_source.stderr
    assert world.state() == before


def test_soak_time_not_reached_is_refused(world: World) -> None:
    before = world.state()

    result = world.cli("promote", "orders", "--to", "staging", *FAST, now=T1 + timedelta(minutes=20))

    assert result.code == 1
    assert "MER-PROMO-003 soak time not reached" in result.stderr
    assert "has run in dev for 20m, and dev requires 1h" in result.stderr
    assert "ready at 2026-06-01T11:00:00Z" in result.stderr
    assert world.state() == before


def test_a_freeze_window_refuses_unless_an_emergency_reason_is_given(world: World) -> None:
    # staging has run 1.1.0 for three days by Saturday: only the weekend freeze stands in the way.
    world.set_version("staging", "orders", "1.1.0", when=NOW - timedelta(days=1))
    before = world.state()

    frozen = world.cli("promote", "orders", "--to", "prod", *FAST, now=SATURDAY)
    assert frozen.code == 1
    assert "MER-PROMO-004 freeze window: prod is frozen until 2026-06-08T00:00Z (weekend" in frozen.stderr
    assert world.state() == before

    empty = world.cli("promote", "orders", "--to", "prod", "--emergency", " ", *FAST, now=SATURDAY)
    assert empty.code == 2
    assert "--emergency needs a reason" in empty.stderr

    forced = world.cli(
        "promote",
        "orders",
        "--to",
        "prod",
        "--emergency",
        "checkout outage, fix in 1.1.0",
        *FAST,
        now=SATURDAY,
    )
    assert forced.code == 0, forced.output
    trailers = world.trailers("promote/orders/prod/1.1.0")
    assert trailers["Meridian-Emergency"] == "checkout outage, fix in 1.1.0"
    assert trailers["Meridian-From"] == "staging"


def test_a_failing_policy_gate_refuses_and_names_the_rule(world: World) -> None:
    # dev is the first environment and requires no digest, so only the gate can object to `latest`.
    before = world.state()

    result = world.cli("promote", "orders", "--to", "dev", "--version", "latest", *FAST)

    assert result.code == 1
    assert (
        "MER-PROMO-008 policy gate failed: dev does not pass the policy gate after the change"
        in result.stderr
    )
    assert "dev: FAILED" in result.stderr
    assert world.state() == before


def test_the_first_environment_takes_a_named_build(world: World) -> None:
    build = synthetic_digest("orders", "1.2.0")

    missing = world.cli("promote", "orders", "--to", "dev", *FAST)
    result = world.cli("promote", "orders", "--to", "dev", "--version", "1.2.0", "--digest", build, *FAST)

    assert missing.code == 2
    assert "dev is the first environment: say which build goes in" in missing.stderr
    assert result.code == 0, result.output
    assert world.version("dev", "orders", "promote/orders/dev/1.2.0").digest == build
    assert "Meridian-From" not in world.trailers("promote/orders/dev/1.2.0")


def test_a_dirty_working_tree_is_refused_as_a_conflict(world: World) -> None:
    settings = world.root / "environments" / "staging" / "apps" / "orders" / "settings.yaml"
    settings.write_text(settings.read_text() + "# an edit in progress\n")
    (world.root / "environments" / "staging" / "notes.txt").write_text("untracked\n")
    before = world.state()

    result = world.cli("promote", "orders", "--to", "staging", *FAST)

    assert result.code == 3
    assert "the working tree has changes a promotion would not see" in result.stderr
    assert "environments/staging/apps/orders/settings.yaml" in result.stderr
    assert "git stash -u" in result.stderr
    assert world.state() == before


def test_a_rerun_is_idempotent(world: World) -> None:
    first = world.cli("promote", "orders", "--to", "staging", *FAST)
    assert first.code == 0, first.output
    # An app's build output beside its Kustomize base is no input of a promotion: no refusal.
    (world.root / "apps" / "orders" / "build.log").write_text("compiled\n")
    after_first = world.state()

    again = world.cli("promote", "orders", "--to", "staging", *FAST)

    assert again.code == 0
    assert "already waits on promote/orders/staging/1.1.0" in again.stdout
    assert world.state() == after_first


def test_nothing_to_do_when_the_environment_already_runs_the_version(world: World) -> None:
    world.set_version("staging", "orders", "1.1.0", when=NOW - timedelta(days=1))
    before = world.state()

    result = world.cli("promote", "orders", "--to", "staging", *FAST)

    assert result.code == 0
    assert "staging already runs orders 1.1.0" in result.stdout
    assert world.state() == before


def test_a_pending_promotion_conflicts_unless_superseded(world: World) -> None:
    assert world.cli("promote", "orders", "--to", "staging", *FAST).code == 0
    world.set_version("dev", "orders", "1.2.0", when=NOW - timedelta(hours=5))
    before = world.state()

    conflict = world.cli("promote", "orders", "--to", "staging", *FAST)

    assert conflict.code == 3
    assert "conflicts with the pending branch(es) promote/orders/staging/1.1.0" in conflict.stderr
    assert "--supersede" in conflict.stderr
    assert world.state() == before

    superseded = world.cli("promote", "orders", "--to", "staging", "--supersede", *FAST)

    assert superseded.code == 0, superseded.output
    branches = world.branches()
    assert "promote/orders/staging/1.2.0" in branches
    assert "promote/orders/staging/1.1.0" not in branches
    assert "superseded promote/orders/staging/1.1.0" in superseded.stdout


def test_a_merged_promotion_is_no_longer_pending(world: World) -> None:
    assert world.cli("promote", "orders", "--to", "staging", *FAST).code == 0
    world.merge("promote/orders/staging/1.1.0", when=NOW - timedelta(hours=30))
    world.set_version("dev", "orders", "1.2.0", when=NOW - timedelta(hours=2))

    result = world.cli("promote", "orders", "--to", "staging", *FAST)

    assert result.code == 0, result.output
    assert "promote/orders/staging/1.2.0" in world.branches()


def test_plan_shows_the_checks_and_the_rendered_diff_and_changes_nothing(world: World) -> None:
    before = world.state()

    good = world.cli("promote", "plan", "orders", "--to", "staging", *FAST)
    refused = world.cli("promote", "plan", "orders", "--to", "staging", *FAST, now=T1)

    assert good.code == 0, good.output
    assert "every rule holds" in good.stdout
    assert "--- a/build/staging/apps/orders.yaml" in good.stdout
    assert (
        f"+        image: ghcr.io/meridian-platform/orders:1.1.0@{synthetic_digest('orders', '1.1.0')}"
        in good.stdout
    )
    assert "policy gate: staging: passed" in good.stdout
    assert refused.code == 1
    assert "MER-PROMO-003" in refused.stdout
    assert "the plan would be refused (MER-PROMO-003); nothing was changed" in refused.stderr
    assert world.state() == before


def test_unknown_apps_and_environments_are_usage_errors(world: World) -> None:
    before = world.state()

    app = world.cli("promote", "payments", "--to", "staging")
    env = world.cli("promote", "orders", "--to", "qa")
    nothing = world.cli("promote", "--to", "staging")

    assert (app.code, env.code, nothing.code) == (2, 2, 2)
    assert "payments is neither an app nor a bundle of staging" in app.stderr
    assert "unknown environment 'qa'" in env.stderr
    assert "dev → staging → prod" in env.stderr
    assert "name the app (or bundle) to promote, or pass --all-changed" in nothing.stderr
    assert world.state() == before


def test_two_apps_promoted_side_by_side_merge_without_conflict(world: World) -> None:
    # Two real processes at once, as two people (or two workflow runs) would.
    first = world.spawn("promote", "orders", "--to", "staging", *FAST)
    second = world.spawn("promote", "inventory", "--to", "staging", *FAST)
    outputs = [proc.communicate(timeout=600) for proc in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    branches = world.branches()
    assert {"promote/orders/staging/1.1.0", "promote/inventory/staging/1.1.0"} <= set(branches)
    assert world.git("worktree", "list").count("\n") == 1  # both temporary worktrees are gone
    world.merge("promote/orders/staging/1.1.0", when=NOW)
    world.merge("promote/inventory/staging/1.1.0", when=NOW)
    assert world.version("staging", "orders").tag == "1.1.0"
    assert world.version("staging", "inventory").tag == "1.1.0"
    assert world.version("prod", "orders").tag == "1.0.0"


def test_all_changed_promotes_every_app_on_its_own_branch(world: World) -> None:
    result = world.cli("promote", "--all-changed", "--to", "staging", *FAST)

    assert result.code == 0, result.output
    for app in ("orders", "inventory"):
        branch = f"promote/{app}/staging/1.1.0"
        assert world.changed("main", branch) == [f"environments/staging/apps/{app}/version.yaml"]
    nothing = world.cli("promote", "--all-changed", "--to", "prod", *FAST)
    assert nothing.code == 0
    assert "promote/" not in nothing.stdout
