"""`meridian validate ENV|--all`: render an environment and dry-run every object against the
running local API server (`meridian cluster up --local`), so schema errors, bad field values and
admission refusals show up before Argo CD or Pulumi meets them."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer
from meridian_core.errors import InputError, RefusedError
from meridian_core.exitcodes import ExitCode
from meridian_core.layout import Repo, find_repo
from rich.markup import escape

from meridian.cluster import LocalCluster
from meridian.cluster.api import ApiError
from meridian.cluster.dryrun import Outcome, Report, Verdict, check, install_crds, load_manifests
from meridian.cluster.scaffold import Scaffold
from meridian.commands.options import Environments, examples, grouped
from meridian.console import out
from meridian.render import render_environment

CRDS_DIR_ENV = "MERIDIAN_CRDS_DIR"

app = typer.Typer()


@app.command(
    "validate",
    epilog=examples(
        "meridian validate dev  # against `meridian cluster up --local`",
        "meridian validate prod --crds build/crds/prod  # with the CRDs `meridian render prod` wrote",
    ),
)
@grouped(environments=Environments)
def validate(
    environments: Environments,
    crds: Annotated[
        Path | None,
        typer.Option(
            "--crds",
            envvar=CRDS_DIR_ENV,
            help="Install the CRDs in this folder first (default: .meridian/crds, if it is there).",
        ),
    ] = None,
) -> None:
    """Server-side dry-run of every rendered object: exit 0 when none is rejected, 1 when one is."""
    repo = find_repo()
    envs = environments.names(repo, "validate")
    crd_dir = _crd_dir(repo, crds)
    try:
        rejected = _validate(repo, envs, crd_dir)
    except ApiError as exc:
        # Not an object's rejection (those are reported above) but the conversation failing.
        raise RefusedError(
            f"the local API server failed a request: {exc.message}",
            hint="`meridian cluster status --local` shows whether it is healthy",
        ) from None
    if rejected:
        raise typer.Exit(int(ExitCode.REFUSED))


def _validate(repo: Repo, envs: list[str], crd_dir: Path | None) -> int:
    rejected = 0
    with LocalCluster(repo).api() as api, Scaffold(api) as crd_scaffold:
        installed = install_crds(api, crd_dir, crd_scaffold)
        if installed:
            out.print(
                f"installed {len(installed)} CRD(s) from {crd_dir} for the check: {', '.join(installed)}"
            )
        for name in envs:
            rendered = render_environment(repo, name)
            manifests, summaries = load_manifests(rendered)
            report = check(api, manifests)
            report.summaries = summaries
            _print(repo, name, report)
            rejected += report.count(Verdict.REJECTED)
    if crd_scaffold.left_behind:
        out.print(f"[yellow]warning[/]   CRDs still being deleted: {', '.join(crd_scaffold.left_behind)}")
    return rejected


def _crd_dir(repo: Repo, given: Path | None) -> Path | None:
    # A blank $MERIDIAN_CRDS_DIR counts as unset, as an empty one does.
    if given is not None and str(given).strip():
        if not given.is_dir():
            raise InputError(f"--crds (or ${CRDS_DIR_ENV}) {given}: not a folder")
        return given
    default = repo.local_dir / "crds"
    return default if default.is_dir() else None


def _print(repo: Repo, env: str, report: Report) -> None:
    if report.created_namespaces:
        out.print(
            f"[dim]{env}: namespaces created for the check and deleted after it: "
            f"{', '.join(report.created_namespaces)}[/]",
            soft_wrap=True,
        )
    if report.left_behind:
        out.print(
            f"[yellow]warning[/]   {env}: still being deleted, check later with kubectl: "
            f"{', '.join(report.left_behind)}",
            soft_wrap=True,
        )
    for outcome in report.outcomes:
        for warning in outcome.warnings:
            out.print(f"[yellow]warning[/]   {_where(repo, outcome)}: {escape(warning)}", soft_wrap=True)
        if outcome.verdict is Verdict.REJECTED:
            # One line per object, never wrapped, so the output can be searched and grepped.
            out.print(f"[red]rejected[/]  {_where(repo, outcome)}: {escape(outcome.reason)}", soft_wrap=True)
    unchecked: dict[str, list[str]] = defaultdict(list)
    for outcome in report.outcomes:
        if outcome.verdict is Verdict.UNCHECKED:
            unchecked[outcome.reason].append(outcome.manifest.label())
    for reason, labels in sorted(unchecked.items()):
        out.print(f"[dim]unchecked ({escape(reason)}): {escape(', '.join(labels))}[/]", soft_wrap=True)
    counts = ", ".join(f"{report.count(v)} {v.value}" for v in Verdict)
    skipped = f" ({report.summaries} summaries skipped)" if report.summaries else ""
    out.print(f"[bold]{env}[/]: {counts}{skipped}")


def _where(repo: Repo, outcome: Outcome) -> str:
    source = outcome.manifest.source
    shown = source.relative_to(repo.root) if source.is_relative_to(repo.root) else source
    return f"{escape(outcome.manifest.label())} ({shown})"
