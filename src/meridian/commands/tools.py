"""`meridian tools install`: install every pinned tool that is missing or out of date."""

from __future__ import annotations

from typing import Annotated

import typer

from meridian import toolchain
from meridian.console import out
from meridian.errors import InputError
from meridian.paths import find_repo

app = typer.Typer(help="Install the repository's pinned tools.", no_args_is_help=True)


@app.command("install")
def install(
    group: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="Install only these groups (see tools/tools.toml)."),
    ] = None,
) -> None:
    """Install what is missing or whose pins changed; a second run does nothing."""
    repo = find_repo()
    manifest = toolchain.load_manifest(repo)
    only = set(group) if group else None
    if only and (unknown := only - manifest.groups.keys()):
        raise InputError(
            f"unknown tool group(s): {', '.join(sorted(unknown))}",
            hint=f"groups are: {', '.join(manifest.groups)}",
        )
    report = toolchain.install(repo, manifest, only)
    for name in report.ran:
        out.print(f"installed {name}")
    if not report.ran:
        out.print(f"nothing to do ({len(report.skipped)} groups up to date)")
