"""What a promotion must refuse or tell, and races it must not lose, on real git repositories:
the gate's findings in a refusal, digests that do not come from the previous environment, a plan
beside an uncommitted lock, and two promotions of one app and environment started together."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from meridian_core.git import Git
from promote_world import FAST, NOW, World, synthetic_digest

from meridian.promote import claims
from meridian.promote.state import lock_text
from meridian.promote.versions import Pin, read_pin, write_pin


def test_a_gate_refusal_lists_each_violation_as_policy_check_does(world: World) -> None:
    before = world.state()

    result = world.cli("promote", "orders", "--to", "dev", "--version", "latest", *FAST)

    assert result.code == 1
    assert "MER-PROMO-008 policy gate failed" in result.stderr
    assert "policy gate: 1 denied" in result.stderr
    # rule, object, file and line, message: what `meridian policy check` shows for the same finding
    line = next(ln.strip() for ln in result.stderr.splitlines() if ln.strip().startswith("MER-IMG-001"))
    assert line.startswith("MER-IMG-001 Deployment orders/orders (build/dev/apps/orders.yaml:")
    assert 'container "orders" runs ghcr.io/meridian-platform/orders:latest' in line
    assert world.state() == before


def _dev_by_tag_only(world: World, tag: str) -> None:
    """dev runs `tag` with no digest in its image, as the first environment allows."""
    path = world.root / "environments" / "dev" / "apps" / "orders" / "version.yaml"
    text = path.read_text()
    pin = read_pin(text, "orders", str(path))
    path.write_text(write_pin(text, "orders", Pin(pin.repository, tag, None, tag), str(path)))
    world.git("commit", "--quiet", "-am", f"dev: orders {tag} by tag", when=NOW - timedelta(days=1))


def test_a_digest_the_previous_environment_never_ran_is_refused(world: World) -> None:
    _dev_by_tag_only(world, "1.1.0")
    before = world.state()
    invented = synthetic_digest("orders", "invented")

    result = world.cli("promote", "orders", "--to", "staging", "--digest", invented, *FAST)

    assert result.code == 1, result.output
    assert "MER-PROMO-014 digest not the one the previous environment runs" in result.stderr
    assert "orders 1.1.0 runs in dev by tag only, with no digest, but this change pins" in result.stderr
    assert world.state() == before


def test_a_promotion_copies_the_previous_environments_digest(world: World) -> None:
    other = world.cli(
        "promote", "orders", "--to", "staging", "--digest", synthetic_digest("orders", "other"), *FAST
    )
    same = world.cli(
        "promote", "orders", "--to", "staging", "--digest", synthetic_digest("orders", "1.1.0"), *FAST
    )

    assert other.code == 1
    assert "MER-PROMO-014" in other.stderr
    assert f"runs in dev as {synthetic_digest('orders', '1.1.0')}" in other.stderr
    assert same.code == 0, same.output
    promoted = world.version("staging", "orders", "promote/orders/staging/1.1.0")
    assert promoted.digest == synthetic_digest("orders", "1.1.0")


def test_plan_says_prominently_that_it_ignores_an_uncommitted_lock(world: World) -> None:
    lock = world.root / "environments" / "staging" / "lock.yaml"
    lock.write_text(lock_text("staging", "release freeze", "Pat Promoter <pat@example.com>", NOW))
    before = world.state()

    plan = world.cli("promote", "plan", "orders", "--to", "staging", *FAST)
    promote = world.cli("promote", "orders", "--to", "staging", *FAST)

    assert plan.code == 0, plan.output  # judged at HEAD, where staging is not locked
    assert "warning: this plan judges HEAD, as `promote` would; it ignores 1 uncommitted change(s)" in (
        plan.stderr
    )
    assert (
        "warning: environments/staging/lock.yaml is not committed: the plan does not see this lock"
        in plan.stderr
    )
    assert promote.code == 3
    assert "environments/staging/lock.yaml" in promote.stderr
    assert world.state() == before


def test_two_promotions_of_one_app_and_environment_started_together_one_wins(world: World) -> None:
    # Two real processes at once, as two people (or two workflow runs) would start them.
    args = [("--version", tag, "--digest", synthetic_digest("orders", tag)) for tag in ("1.4.0", "1.5.0")]
    runs = [world.spawn("promote", "orders", "--to", "dev", *build, *FAST) for build in args]
    outputs = [proc.communicate(timeout=600) for proc in runs]

    codes = sorted(proc.returncode for proc in runs)
    assert codes == [0, 3], outputs
    pending = [b for b in world.branches() if b.startswith("promote/orders/dev/")]
    assert len(pending) == 1, pending
    loser = next(err for proc, (_, err) in zip(runs, outputs, strict=True) if proc.returncode == 3)
    assert "conflicts with" in loser
    assert world.git("worktree", "list").count("\n") == 1  # both temporary worktrees are gone
    assert not list(claims.claims_dir(Git(world.root)).glob("*.lock"))  # the winner let go


def test_a_claim_of_a_dead_process_is_taken_over_and_a_live_one_is_not(world: World) -> None:
    git = Git(world.root)
    with claims.claim(git, ["orders"], "dev", "first"):
        with pytest.raises(claims.Claimed) as held, claims.claim(git, ["orders"], "dev", "second"):
            pass
        assert held.value.holder.pid == os.getpid()
    # A claim file left by a process that has exited since.
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    with claims.claim(git, ["orders"], "dev", "crashed"):
        path = next(claims.claims_dir(git).glob("*.lock"))
        stale = path.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {int(gone.stdout)}')
    path.write_text(stale)
    with claims.claim(git, ["orders"], "dev", "after the crash"):
        assert "after the crash" in path.read_text()
    assert not path.exists()


def test_an_empty_claim_is_abandoned_after_a_grace_period(world: World) -> None:
    git = Git(world.root)
    empty = claims.claim_path(git, "orders", "dev")
    empty.parent.mkdir(parents=True)
    empty.write_text("")
    with pytest.raises(claims.Claimed), claims.claim(git, ["orders"], "dev", "too soon"):
        pass
    old = (datetime.now(UTC) - timedelta(minutes=5)).timestamp()
    os.utime(empty, (old, old))
    with claims.claim(git, ["orders"], "dev", "later"):
        assert "later" in empty.read_text()
