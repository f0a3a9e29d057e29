"""`meridian promote`: move versions dev → staging → prod by branches and pull requests.

meridian promote APP --to ENV [--version V] [--push]     promote (the default sub-command)
meridian promote plan APP --to ENV                       the same checks and diff, changing nothing
meridian promote check [BASE..HEAD]                      is a change a legal promotion? (CI)
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from meridian_core.errors import RefusedError
from meridian_core.layout import find_repo
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from meridian.commands.options import Skip, checkers, command_group, examples, grouped
from meridian.commands.promotion_options import Branch, Remote, promotion_request
from meridian.console import out, progress, warning
from meridian.promote import check as checking
from meridian.promote import clock, land, report, texts
from meridian.promote.context import Options
from meridian.promote.plan import Request

# Typer vendors its click privately, so the context and formatter types below are not public:
# they are annotated as Any.


class _PromoteByDefault(TyperGroup):
    """`meridian promote orders --to prod` runs the hidden `run` sub-command: promoting is what
    the group is for; `plan` and `check` are its other sub-commands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


class _UsageOfGroup(TyperCommand):
    """Usage lines say `meridian promote APP…`, not the hidden sub-command's name."""

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        path = ctx.parent.command_path if ctx.parent else ctx.command_path
        formatter.write_usage(path, " ".join(self.collect_usage_pieces(ctx)))


_EXAMPLES = (
    "meridian promote orders --to staging  # what dev runs, committed on a new branch",
    "meridian promote orders --to prod --push  # and push the branch, open its pull request",
    "meridian promote --all-changed --to staging  # every app whose version differs from dev's",
)

app = command_group(
    "promote",
    "Promote apps dev → staging → prod through branches and pull requests: "
    "`meridian promote APP --to ENV [--push]`, or one of the commands below.",
    *_EXAMPLES,
    "meridian promote plan orders --to prod",
    cls=_PromoteByDefault,
)


@app.command("run", hidden=True, cls=_UsageOfGroup, epilog=examples(*_EXAMPLES))
@grouped(request=promotion_request, branch=Branch)
def run(request: Request, branch: Branch, skip: Skip = None) -> None:
    """Promote an app (or bundle) into ENV on a new branch promote/APP/ENV/VERSION.

    Exit 0 done or nothing to do, 1 refused by a rule or the gate, 2 bad input, 3 a pending
    promotion of the same app and environment."""
    _run(request, branch.options(skip))


@app.command(
    "plan",
    cls=TyperCommand,
    epilog=examples("meridian promote plan orders --to prod  # the rules, the gate and the rendered diff"),
)
@grouped(request=promotion_request)
def plan(request: Request, remote: Remote = "origin", skip: Skip = None) -> None:
    """The checks and the rendered diff of a promotion, changing nothing.

    Exit 0 when it would go through, 1 when a rule or the gate would refuse it."""
    options = Options(
        now=clock.now(), plan=True, checkers=checkers(skip), remote=remote, say=progress, warn=warning
    )
    _run(request, options)


def _run(request: Request, options: Options) -> None:
    outcomes = land.promote(find_repo(), request, options)
    report.conclude(outcomes, out, remote=options.remote, diff=options.plan)


@app.command(
    "check",
    cls=TyperCommand,
    epilog=examples(
        "meridian promote check  # HEAD against origin's default branch",
        "meridian promote check origin/main..HEAD --skip checkov",
    ),
)
def check(
    commits: Annotated[
        str | None,
        typer.Argument(
            metavar="[BASE..HEAD]", help="The change to check (default: origin's default branch..HEAD)."
        ),
    ] = None,
    remote: Remote = "origin",
    skip: Skip = None,
) -> None:
    """Check that a change (a pull request) is a legal promotion.

    One target environment, only version fields, versions that run upstream, every rule as of
    BASE. Exit 0 legal (or no promotion at all), 1 refused, 2 bad range."""
    repo = find_repo()
    result = checking.check(
        repo, commits, now=clock.now(), checkers=checkers(skip), remote=remote, say=progress
    )
    span = f"{result.merge_base[:10]}..{result.head[:10]}"
    for note in result.notes:
        out.print(f"[dim]=[/] {escape(span)}: {escape(note)}")
    for checked in result.apps:
        mark = "[red]✗[/]" if checked.denials else "[green]✓[/]"
        out.print(
            f"{mark} {checked.kind} of {checked.app} {escape(checked.previous)} → {escape(checked.version)}"
            f" in {checked.env}"
        )
    if result.gate_summary:
        out.print(f"  policy gate: {escape(result.gate_summary)}")
    if result.denials:
        lines = texts.refusal_lines(result.denials, result.gate_violations)
        raise RefusedError("not a legal promotion:\n" + "\n".join(lines))
