"""The options of the commands that commit a change on a branch (promote, promote plan, rollback,
release, lock, unlock), defined once, and what they become for the promotion code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from meridian_core.errors import InputError

from meridian import console
from meridian.commands.options import Checker, checkers
from meridian.promote import clock
from meridian.promote.context import Options
from meridian.promote.facts import Overrides
from meridian.promote.plan import Request

Remote = Annotated[str, typer.Option("--remote", help="The git remote to push to and compare with.")]
BreakGlass = Annotated[
    str | None, typer.Option("--break-glass", metavar="REASON", help="Promote into a locked environment.")
]


def reason(flag: str, value: str | None) -> str:
    if value is None:
        return ""
    if not value.strip():
        raise InputError(f"{flag} needs a reason", hint=f'{flag} "why this cannot wait"')
    return value.strip()


@dataclass(frozen=True)
class Branch:
    """How a command that commits a change on a branch hands it on."""

    push: Annotated[
        bool,
        typer.Option(
            "--push",
            help="Push the branch and open the pull request (a token in $GITHUB_TOKEN or $GH_TOKEN; "
            "the repository from the remote's URL or $MERIDIAN_GITHUB_REPOSITORY).",
        ),
    ] = False
    supersede: Annotated[
        bool, typer.Option("--supersede", help="Replace pending promotions of the same app and environment.")
    ] = False
    base: Annotated[
        str | None,
        typer.Option("--base", help="The pull request's base branch (default: the current branch)."),
    ] = None
    remote: Remote = "origin"

    def options(self, skip: list[Checker] | None = None) -> Options:
        """What the promotion code is handed: these flags, the checkers left, the time, progress."""
        return Options(
            now=clock.now(),
            push=self.push,
            supersede=self.supersede,
            checkers=checkers(skip),
            remote=self.remote,
            base=self.base,
            say=console.progress,
        )


def promotion_request(  # noqa: PLR0917 - one parameter per option, in the order --help shows them
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="APP...", help="Apps or bundles to promote (an app of a bundle brings its bundle)."
        ),
    ] = None,
    to: Annotated[str, typer.Option("--to", help="The environment to promote into.")] = "",
    version: Annotated[
        str | None,
        typer.Option("--version", help="The version to promote (default: what the previous env runs)."),
    ] = None,
    digest: Annotated[
        str | None, typer.Option("--digest", help="sha256:… of the image (for the first environment).")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--from", help="The environment promoted from; only the previous one is allowed."),
    ] = None,
    all_changed: Annotated[
        bool,
        typer.Option("--all-changed", help="Every app whose version differs from the previous environment."),
    ] = False,
    emergency: Annotated[
        str | None, typer.Option("--emergency", metavar="REASON", help="Promote during a freeze window.")
    ] = None,
    break_glass: BreakGlass = None,
    release_hold: Annotated[
        bool, typer.Option("--release-hold", help="Promote an app held after a rollback, releasing the hold.")
    ] = False,
) -> Request:
    """What `promote` and `promote plan` are asked: the same options, the same checks."""
    if not to:
        raise InputError("say which environment to promote into", hint="--to staging, --to prod, …")
    return Request(
        to=to,
        targets=tuple(targets or ()),
        all_changed=all_changed,
        version=version,
        digest=digest,
        source=source,
        overrides=Overrides(
            emergency=reason("--emergency", emergency),
            break_glass=reason("--break-glass", break_glass),
            release_hold=release_hold,
        ),
    )
