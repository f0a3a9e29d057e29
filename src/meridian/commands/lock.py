"""`meridian lock ENV --reason R` / `meridian unlock ENV`: the environment lock, by pull request."""

from __future__ import annotations

from typing import Annotated

import typer
from meridian_core.layout import find_repo

from meridian.commands.options import Env, examples, grouped
from meridian.commands.promotion_options import Branch
from meridian.console import out
from meridian.promote import report
from meridian.promote.locks import change_lock

app = typer.Typer()


@app.command("lock", epilog=examples("meridian lock prod --reason 'incident 4711' --push"))
@grouped(branch=Branch)
def lock(
    env: Env,
    why: Annotated[str, typer.Option("--reason", help="Why the environment is locked (required).")],
    branch: Branch,
) -> None:
    """Lock ENV on a branch lock/ENV: once merged, promotions into it are refused.

    A promotion given --break-glass REASON goes through anyway, with the reason in its commit.
    Exit 0 done or already locked, 2 bad input, 3 a lock change is pending."""
    _change(env, locked=True, why=why, branch=branch)


@app.command("unlock", epilog=examples("meridian unlock prod --push"))
@grouped(branch=Branch)
def unlock(env: Env, branch: Branch) -> None:
    """Unlock ENV on a branch unlock/ENV.

    Exit 0 done or not locked, 3 a lock change is pending."""
    _change(env, locked=False, why="", branch=branch)


def _change(env: str, *, locked: bool, why: str, branch: Branch) -> None:
    outcome = change_lock(find_repo(), env, locked=locked, reason=why, options=branch.options())
    report.conclude([outcome], out, remote=branch.remote)
