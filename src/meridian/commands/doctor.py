"""`meridian doctor`: every tool the repository needs, found versus pinned, and how to get it."""

from __future__ import annotations

from pathlib import Path

import typer
from meridian_core.exitcodes import ExitCode
from meridian_core.layout import Repo, find_repo
from rich.table import Table

from meridian import toolchain
from meridian.commands.options import For, examples
from meridian.console import out

app = typer.Typer()


@app.command(
    "doctor",
    epilog=examples("meridian doctor", "meridian doctor --for up  # only what `meridian up` needs"),
)
def doctor(for_: For = None) -> None:
    """List every tool with the version found and the version pinned; exit 1 if a required one is missing."""
    repo = find_repo()
    manifest = toolchain.load_manifest(repo)
    groups = set(manifest.select(None, for_))
    table = Table(title="Meridian toolchain", title_justify="left")
    for column in ("tool", "found", "pinned", "status", "purpose"):
        table.add_column(column)
    missing_required = 0
    hints: dict[str, str] = {}
    for tool in manifest.tools:
        if tool.group not in groups:
            continue
        status = toolchain.probe(repo, tool)
        if status.found is None:
            verdict = "[red]missing[/]" if tool.required else "[yellow]absent (optional)[/]"
            missing_required += tool.required
            hints[tool.group] = manifest.groups[tool.group].hint
        elif status.problem:
            verdict = f"[yellow]{status.problem}[/]"
        else:
            verdict = "[green]ok[/]" + _where(repo, status.location)
        table.add_row(tool.name, status.found or "-", status.pinned or "-", verdict, tool.purpose)
    out.print(table)
    for group, hint in hints.items():
        out.print(f"[bold]{group}[/]: {hint}")
    if missing_required:
        out.print(f"[red]{missing_required} required tool(s) missing[/]")
        raise typer.Exit(int(ExitCode.REFUSED))
    out.print("all required tools present")


def _where(repo: Repo, location: str | None) -> str:
    """Say where a tool lives when it is an existing build bin/ links to, not one built here."""
    if location is None:
        return ""
    path = Path(location)
    if path.is_symlink() and path.parent == repo.bin_dir:
        return f" (uses {path.readlink()})"
    return ""
