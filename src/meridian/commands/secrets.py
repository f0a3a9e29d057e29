"""`meridian secrets scan`: look for credentials in a working tree and, with --history, in every commit."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from meridian_core.exitcodes import ExitCode
from meridian_core.layout import find_repo
from rich.markup import escape
from rich.table import Table

from meridian.commands.options import TableOrJson, TableOrJsonFormat, command_group, examples
from meridian.console import err, out
from meridian.policy import secret_scan

_SCAN = (
    "meridian secrets scan  # this checkout's working tree, build/ included",
    "meridian secrets scan --history  # and every commit",
    "meridian secrets scan build/dev --format json",
)
app = command_group(
    "secrets", "Find secrets before they reach git (gitleaks, policies/gitleaks.toml).", *_SCAN
)


@app.command("scan", epilog=examples(*_SCAN))
def scan(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Folder (or file) to scan; default: this repository, build/ included."),
    ] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Also scan every commit of the folder's git history.")
    ] = False,
    output_format: TableOrJsonFormat = TableOrJson.TABLE,
) -> None:
    """Exit 1 when a secret is found (file, line and rule are listed; the secret never is), 0 when
    clean, 2 when the folder cannot be scanned."""
    repo = find_repo()
    target = directory or repo.root
    findings = secret_scan.scan_tree(repo, target)
    if history:
        findings += secret_scan.scan_history(repo, target)
    # With --format json, stdout holds the JSON alone (for pipes); the verdict goes to stderr.
    console = out
    if output_format is TableOrJson.JSON:
        print(json.dumps({"target": str(target), "findings": [asdict(f) for f in findings]}, indent=2))
        console = err
    else:
        _table(findings)
    scope = f"{target} (working tree{' and git history' if history else ''})"
    if findings:
        console.print(f"[bold red]{len(findings)} secret(s) found in {escape(scope)}[/]")
        console.print("remove each one, rotate it (it is compromised), and deliver it from Vault instead")
        raise typer.Exit(int(ExitCode.REFUSED))
    console.print(f"[green]no secrets found in {escape(scope)}[/]")


def _table(findings: list[secret_scan.SecretFinding]) -> None:
    if not findings:
        return
    table = Table(title="Secrets", title_justify="left")
    for column in ("file", "line", "rule", "commit", "what"):
        table.add_column(column, overflow="fold")
    for f in findings:
        table.add_row(
            escape(f.file), str(f.line), escape(f.rule), f.commit or "(working tree)", escape(f.description)
        )
    out.print(table)
