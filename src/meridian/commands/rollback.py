"""`meridian rollback APP --env ENV [--to V]`: restore an earlier version, byte for byte, by pull request."""

from __future__ import annotations

from typing import Annotated

import typer
from meridian_core.layout import find_repo

from meridian.commands.options import App, Skip, examples, grouped
from meridian.commands.promotion_options import Branch, BreakGlass, reason
from meridian.console import out
from meridian.promote import land, report
from meridian.promote.facts import Overrides
from meridian.promote.plan import RollbackRequest

app = typer.Typer()

RollbackEnv = Annotated[str, typer.Option("--env", help="The environment to roll back in.")]
RestoreVersion = Annotated[
    str | None,
    typer.Option("--to", help="The version to restore (default: the one before the current version)."),
]
Reason = Annotated[str | None, typer.Option("--reason", help="Why: recorded in the commit and on the hold.")]


@app.command(
    "rollback",
    epilog=examples(
        "meridian rollback orders --env prod --reason 'p99 latency doubled'  # the version before",
        "meridian rollback orders --env staging --to 1.1.0 --push",
    ),
)
@grouped(branch=Branch)
def rollback(
    app: App,
    env: RollbackEnv,
    to: RestoreVersion = None,
    why: Reason = None,
    break_glass: BreakGlass = None,
    *,
    branch: Branch,
    skip: Skip = None,
) -> None:
    """Restore an earlier version of APP in ENV, byte for byte from history, by pull request.

    Through the policy gate, on a branch rollback/APP/ENV/VERSION; the app is then held there
    until a promotion releases it (--release-hold). Exit 0 done or nothing to do, 1 refused,
    2 bad input, 3 a pending promotion of the same app and environment."""
    request = RollbackRequest(
        app=app,
        env=env,
        version=to,
        reason=reason("--reason", why),
        overrides=Overrides(break_glass=reason("--break-glass", break_glass)),
    )
    outcome = land.rollback(find_repo(), request, branch.options(skip))
    report.conclude([outcome], out, remote=branch.remote)
