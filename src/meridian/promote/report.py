"""How promotion, rollback and lock outcomes are told to people, and which exit they end with.

Results go to stdout; a single refusal or conflict becomes the CLI's error (with its rule ids),
so scripts see the shared exit codes: 0 done or nothing to do, 1 refused, 3 conflict.
"""

from __future__ import annotations

from meridian_core.errors import ConflictError, MeridianError, RefusedError
from meridian_core.exitcodes import ExitCode
from rich.console import Console
from rich.markup import escape

from meridian.promote.units import Outcome, Status, exit_code

_MARK = {
    Status.CREATED: "[green]✓[/]",
    Status.PLANNED: "[cyan]•[/]",
    Status.NOTHING: "[dim]=[/]",
    Status.PENDING: "[dim]=[/]",
    Status.SKIPPED: "[yellow]-[/]",
    Status.REFUSED: "[red]✗[/]",
    Status.CONFLICT: "[red]![/]",
}


def show(outcomes: list[Outcome], out: Console, *, remote: str = "origin", diff: bool = False) -> None:
    """Every outcome that will not become the error message itself."""
    single_failure = len(outcomes) == 1 and outcomes[0].exit_code is not ExitCode.OK
    for outcome in outcomes:
        if single_failure and not diff:
            continue
        out.print(f"{_MARK[outcome.status]} {escape(outcome.message)}")
        if outcome.gate_summary:
            out.print(f"  policy gate: {escape(outcome.gate_summary)}")
        if outcome.pull_request is not None:
            verb = "opened" if outcome.pull_request.created else "already open"
            out.print(f"  pull request #{outcome.pull_request.number} {verb}: {outcome.pull_request.url}")
        elif outcome.status is Status.CREATED and outcome.branch:
            out.print(
                f"  next: [bold]git push {remote} {escape(outcome.branch)}[/] and open a pull request "
                "(or re-run with --push, which does both)"
            )
        for note in outcome.notes:
            out.print(f"  [dim]{escape(note)}[/]")
        if diff and outcome.diff:
            out.print(f"  rendered diff ({outcome.env}):")
            out.print(escape(outcome.diff.rstrip("\n")), highlight=False, soft_wrap=True)


def conclude(outcomes: list[Outcome], out: Console, *, remote: str = "origin", diff: bool = False) -> None:
    """Show the outcomes, then end with the error their exit code calls for, if any."""
    show(outcomes, out, remote=remote, diff=diff)
    error = error_for(outcomes)
    if error is not None:
        raise error


def error_for(outcomes: list[Outcome]) -> MeridianError | None:
    """The error the command ends with, or None when it succeeded (or had nothing to do)."""
    code = exit_code(outcomes)
    if code is ExitCode.OK:
        return None
    failing = [o for o in outcomes if o.exit_code is code]
    if len(outcomes) == 1 and outcomes[0].status is Status.PLANNED:
        rules = ", ".join(sorted({d.rule for d in outcomes[0].denials}))
        return RefusedError(f"the plan would be refused ({rules}); nothing was changed")
    if len(outcomes) == 1:
        outcome = outcomes[0]
        hint = "; ".join(outcome.notes) or None
        if code is ExitCode.CONFLICT:
            return ConflictError(outcome.message, hint=hint)
        return RefusedError(outcome.message, hint=hint)
    names = ", ".join(f"{o.name} ({o.status})" for o in failing)
    if code is ExitCode.CONFLICT:
        return ConflictError(f"{len(failing)} of {len(outcomes)} promotion(s) in conflict: {names}")
    return RefusedError(f"{len(failing)} of {len(outcomes)} promotion(s) refused: {names}")
