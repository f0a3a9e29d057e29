"""`meridian lock ENV --reason R` / `meridian unlock ENV`: the environment lock, by pull request."""

from __future__ import annotations

from typing import Annotated

import typer
from meridian_core.layout import find_repo

from meridian.commands.options import Base, Push, Remote, Supersede, say
from meridian.console import out
from meridian.promote import clock, report
from meridian.promote.context import Options
from meridian.promote.locks import change_lock

Env = Annotated[str, typer.Argument(help="The environment.")]


def lock(  # noqa: PLR0917 - Typer passes one argument per option
    env: Env,
    why: Annotated[str, typer.Option("--reason", help="Why the environment is locked (required).")],
    push: Push = False,
    supersede: Supersede = False,
    base: Base = None,
    remote: Remote = "origin",
) -> None:
    """Lock ENV on a branch lock/ENV: once merged, promotions into it are refused.

    A promotion given --break-glass REASON goes through anyway, with the reason in its commit.
    Exit 0 done or already locked, 2 bad input, 3 a lock change is pending."""
    _change(env, locked=True, why=why, push=push, supersede=supersede, base=base, remote=remote)


def unlock(
    env: Env,
    push: Push = False,
    supersede: Supersede = False,
    base: Base = None,
    remote: Remote = "origin",
) -> None:
    """Unlock ENV on a branch unlock/ENV.

    Exit 0 done or not locked, 3 a lock change is pending."""
    _change(env, locked=False, why="", push=push, supersede=supersede, base=base, remote=remote)


def _change(
    env: str, *, locked: bool, why: str, push: bool, supersede: bool, base: str | None, remote: str
) -> None:
    options = Options(now=clock.now(), push=push, supersede=supersede, remote=remote, base=base, say=say)
    outcome = change_lock(find_repo(), env, locked=locked, reason=why, options=options)
    report.show([outcome], out, remote=remote)
    error = report.error_for([outcome])
    if error is not None:
        raise error
