"""The `meridian` command: one Typer app; each module of `meridian.commands` brings its commands."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from meridian_core.errors import InputError, MeridianError

from meridian import __version__, console
from meridian.commands import (
    cluster,
    dev,
    doctor,
    history,
    lock,
    policy,
    promote,
    release,
    render,
    rollback,
    secrets,
    stack,
    status,
    tools,
    validate,
)
from meridian.commands.options import examples
from meridian.console import err

app = typer.Typer(
    name="meridian",
    help="Render, check, promote and run the Meridian platform and its apps.",
    epilog=examples(
        "meridian doctor",
        "meridian up dev",
        "meridian render dev",
        "meridian policy check --env dev",
        "meridian promote orders --to staging",
        "meridian --verbose render dev  # with each tool's command line",
    )
    + "\n\nMERIDIAN_ROOT names the checkout to work on (default: the nearest folder at or above the "
    "current one that holds Pulumi.yaml).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# In the order `meridian --help` lists them. A module whose Typer app has a name is a group of
# commands (`meridian cluster up`); the others add their commands at the top level.
for module in (
    doctor,
    tools,
    stack,
    render,
    policy,
    secrets,
    cluster,
    validate,
    release,
    promote,
    rollback,
    lock,
    status,
    history,
    dev,
):
    app.add_typer(module.app)


def _version(value: bool) -> None:
    if value:
        print(f"meridian {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Also show the command line of each tool meridian runs."),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Show only warnings and errors on stderr: no progress."),
    ] = False,
) -> None:
    """Meridian: a GitOps repository for gRPC services on Kubernetes."""
    if verbose and quiet:
        raise InputError("--verbose and --quiet contradict each other: give one")
    console.set_verbosity(
        console.Verbosity.VERBOSE
        if verbose
        else console.Verbosity.QUIET
        if quiet
        else console.Verbosity.NORMAL
    )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; usage errors exit 2 (Typer's own), every MeridianError with its own code."""
    try:
        app(args=argv)
    except MeridianError as exc:
        err.print(f"[bold red]error:[/] {exc.message}")
        if exc.hint:
            err.print(f"[dim]hint:[/] {exc.hint}")
        sys.exit(int(exc.exit_code))
    finally:
        # --quiet and --verbose last one run, also where `main` is called in process (the tests).
        console.set_verbosity(console.Verbosity.NORMAL)


if __name__ == "__main__":
    main()
