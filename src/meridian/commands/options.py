"""The options and helpers the commands that commit a change on a branch share: promote, rollback,
release, lock and unlock take the same flags with the same meaning."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from meridian_core.errors import InputError
from rich.markup import escape

from meridian.console import err
from meridian.policy import gate
from meridian.promote import clock
from meridian.promote.context import Options


class Checker(StrEnum):
    CONFTEST = "conftest"
    CHECKOV = "checkov"
    SECRETS = "secrets"


Targets = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="APP...", help="Apps or bundles to promote (an app of a bundle brings its bundle)."
    ),
]
To = Annotated[str, typer.Option("--to", help="The environment to promote into.")]
Version = Annotated[
    str | None,
    typer.Option("--version", help="The version to promote (default: what the previous env runs)."),
]
Digest = Annotated[
    str | None, typer.Option("--digest", help="sha256:… of the image (for the first environment).")
]
Source = Annotated[
    str | None,
    typer.Option("--from", help="The environment promoted from; only the previous one is allowed."),
]
AllChanged = Annotated[
    bool, typer.Option("--all-changed", help="Every app whose version differs from the previous environment.")
]
Emergency = Annotated[
    str | None, typer.Option("--emergency", metavar="REASON", help="Promote during a freeze window.")
]
BreakGlass = Annotated[
    str | None, typer.Option("--break-glass", metavar="REASON", help="Promote into a locked environment.")
]
ReleaseHold = Annotated[
    bool, typer.Option("--release-hold", help="Promote an app held after a rollback, releasing the hold.")
]
Skip = Annotated[
    list[Checker] | None,
    typer.Option("--skip", help="Leave a checker out of the policy gate (recorded in the commit)."),
]
Push = Annotated[bool, typer.Option("--push", help="Push the branch and open the pull request.")]
Supersede = Annotated[
    bool, typer.Option("--supersede", help="Replace pending promotions of the same app and environment.")
]
Base = Annotated[
    str | None, typer.Option("--base", help="The pull request's base branch (default: the current branch).")
]
Remote = Annotated[str, typer.Option("--remote", help="The git remote to push to and compare with.")]


def checkers(skip: list[Checker] | None) -> tuple[str, ...]:
    left = tuple(c for c in gate.CHECKERS if c not in set(skip or ()))
    if not left:
        raise InputError("--skip leaves no checker in the policy gate")
    return left


def reason(flag: str, value: str | None) -> str:
    if value is None:
        return ""
    if not value.strip():
        raise InputError(f"{flag} needs a reason", hint=f'{flag} "why this cannot wait"')
    return value.strip()


def say(message: str) -> None:
    err.print(f"[dim]{escape(message)}[/]")


def warn(message: str) -> None:
    err.print(f"[bold yellow]warning:[/] {escape(message)}")


def branch_options(
    *, push: bool, supersede: bool, skip: list[Checker] | None, remote: str, base: str | None
) -> Options:
    """What a command that commits a change on a branch (promote, rollback) passes the promotion code."""
    return Options(
        now=clock.now(),
        push=push,
        supersede=supersede,
        checkers=checkers(skip),
        remote=remote,
        base=base,
        say=say,
    )
