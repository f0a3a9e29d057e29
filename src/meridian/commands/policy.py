"""`meridian policy check`: run the policy gate on files, folders or whole environments."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from meridian_core.errors import InputError
from meridian_core.layout import Repo, find_repo
from rich.markup import escape
from rich.status import Status

from meridian import console, environment_gate
from meridian.commands.options import Skip, checkers, command_group, examples
from meridian.console import err, out
from meridian.environments import require_environment
from meridian.policy import gate
from meridian.policy.formats import json_report, junit, sarif, table
from meridian.policy.model import GateReport

_CHECK = (
    "meridian policy check --env prod  # render prod, then check it",
    "meridian policy check build/dev  # files and folders, e.g. what `meridian render dev` wrote",
    "meridian policy check --all --format sarif --output build/policy.sarif",
    "meridian policy check --env dev --skip checkov  # a quick local run",
)
app = command_group("policy", "Check Kubernetes manifests against the policy gate.", *_CHECK)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"


_MACHINE = {Format.JSON: json_report.render, Format.SARIF: sarif.render, Format.JUNIT: junit.render}


class _ProgressDisplay:
    """A live line of the steps still running on a terminal; one line per finished step elsewhere
    (CI logs), so a long checkov run never looks like a hang."""

    def __init__(self) -> None:
        self._running: dict[str, float] = {}
        self._status: Status | None = None

    def __enter__(self) -> _ProgressDisplay:
        if err.is_terminal and not console.quiet():
            self._status = err.status("starting the policy gate")
            self._status.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._status is not None:
            self._status.stop()

    def __call__(self, step: str, event: str) -> None:
        if event == "start":
            self._running[step] = time.perf_counter()
        else:
            began = self._running.pop(step, time.perf_counter())
            if self._status is None:
                console.progress(f"{step} done in {time.perf_counter() - began:.1f}s")
        if self._status is not None:
            waiting = ", ".join(self._running) or "assembling the report"
            self._status.update(f"policy gate: running {escape(waiting)}")


@app.command("check", epilog=examples(*_CHECK))
def check(  # noqa: PLR0917 - Typer passes one argument per option
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Kubernetes YAML files or folders (multi-document files included)."),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            "-e",
            help="Render and check this environment (repeatable); with PATHs, the one they belong to.",
        ),
    ] = None,
    all_envs: Annotated[bool, typer.Option("--all", help="Render and check every environment.")] = False,
    output_format: Annotated[
        Format, typer.Option("--format", "-f", help="Output for machines, or the table for people.")
    ] = Format.TABLE,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the --format output to this file; the table still prints."
        ),
    ] = None,
    skip: Skip = None,
) -> None:
    """Check manifests: exit 0 when nothing is denied (warnings allowed), 1 when something is,
    2 when the input cannot be read or parsed."""
    repo = find_repo()
    chosen = sum([bool(paths), bool(env) and not paths, all_envs])
    if chosen != 1 or (paths and env and len(env) > 1):
        raise InputError(
            "name PATHs (with at most one --env ENV they belong to), or --env ENV, or --all",
            hint="e.g. `meridian policy check build/dev`, `meridian policy check deploy.yaml --env prod` "
            "or `meridian policy check --env prod`",
        )
    left = checkers(skip)
    with _ProgressDisplay() as progress:
        if paths:
            # With --env, the files are judged as part of that environment: its rules apply, and
            # its platform's namespaces and network policies are in view (meridian.policy.context).
            environment = require_environment(repo, env[0]) if env else None
            report = gate.check_paths(repo, paths, environment=environment, checkers=left, progress=progress)
        else:
            envs = env or _all_environments(repo)
            report = environment_gate.check_environments(repo, envs, checkers=left, progress=progress)
    _emit(report, output_format, output)
    raise typer.Exit(int(report.exit_code))


def _all_environments(repo: Repo) -> list[str]:
    # Imported here: reading the environment specs loads the platform models, which PATH checks skip.
    from meridian.environments import known_environments  # noqa: PLC0415

    names = known_environments(repo)
    if not names:
        raise InputError(f"no environments under {repo.environments_dir}")
    return names


def _emit(report: GateReport, output_format: Format, output: Path | None) -> None:
    if output_format is Format.TABLE:
        if output is not None:
            raise InputError("--output needs --format json, sarif or junit")
        table.render(report, out)
        return
    text = _MACHINE[output_format](report)
    if output is None:
        # Machine output alone on stdout, so it can be piped; people get the summary on stderr.
        print(text)
        err.print(escape(report.summary()))
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
    except OSError as exc:
        raise InputError(f"{output}: cannot write the report: {exc}") from exc
    table.render(report, out)
    out.print(f"[dim]{output_format} report written to {escape(str(output))}[/]")
