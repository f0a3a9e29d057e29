"""The `meridian` command: one Typer app, sub-commands registered from `meridian.commands`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from meridian_core.errors import MeridianError

from meridian import __version__
from meridian.commands import (
    cluster,
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
from meridian.console import err

app = typer.Typer(
    name="meridian",
    help="Render, check, promote and run the Meridian platform and its apps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
) -> None:
    """Meridian: a GitOps repository for gRPC services on Kubernetes."""


app.command("doctor")(doctor.doctor)
app.command("render")(render.render)
app.add_typer(tools.app, name="tools")
app.add_typer(policy.app, name="policy")
app.add_typer(secrets.app, name="secrets")
app.add_typer(promote.app, name="promote")
app.command("release")(release.release)
app.command("rollback")(rollback.rollback)
app.command("lock")(lock.lock)
app.command("unlock")(lock.unlock)
app.command("status")(status.status)
app.command("history")(history.history)
app.add_typer(cluster.app, name="cluster")
app.command("validate")(validate.validate)
app.command("up")(stack.up)
app.command("preview")(stack.preview)
app.command("destroy")(stack.destroy)
app.command("drift")(stack.drift)
app.command("recover")(stack.recover_stack)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; usage errors exit 2 (Typer's own), every MeridianError with its own code."""
    try:
        app(args=argv)
    except MeridianError as exc:
        err.print(f"[bold red]error:[/] {exc.message}")
        if exc.hint:
            err.print(f"[dim]hint:[/] {exc.hint}")
        sys.exit(int(exc.exit_code))


if __name__ == "__main__":
    main()
