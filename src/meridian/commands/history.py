"""`meridian history APP [--env ENV]`: the promotions and rollbacks of an app, from git alone."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from meridian_core.errors import InputError
from meridian_core.git import Git
from meridian_core.layout import find_repo
from meridian_core.snapshot import WorkingTree
from rich.markup import escape
from rich.table import Table

from meridian.commands.options import App, TableOrJson, TableOrJsonFormat, examples
from meridian.console import out
from meridian.promote import clock
from meridian.promote.config import load_config
from meridian.promote.history import Entry, entries

app = typer.Typer()


@app.command(
    "history", epilog=examples("meridian history orders", "meridian history orders --env prod --format json")
)
def history(
    app: App,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="Only this environment (repeatable).")
    ] = None,
    output_format: TableOrJsonFormat = TableOrJson.TABLE,
) -> None:
    """The promotions, rollbacks and hand edits of APP's version, from git history alone.

    Newest first: when each landed, by whom, from where, and any emergency or break-glass
    reason. Exit 0, or 2 for an app git has no version of."""
    repo = find_repo()
    git = Git(repo.root)
    git.require_repository()
    order = load_config(WorkingTree(repo.root)).order
    chosen = env or order
    unknown = [e for e in chosen if e not in order]
    if unknown:
        raise InputError(f"unknown environment {unknown[0]!r}", hint=f"environments are: {', '.join(order)}")
    rows: list[tuple[Entry, str]] = []
    for name in chosen:
        found = entries(git, "HEAD", name, app)
        for i, entry in enumerate(found):
            older = found[i + 1].pin if i + 1 < len(found) else None
            rows.append((entry, older.tag if older else ""))
    if not rows:
        raise InputError(f"git history has no version of {app} in {', '.join(chosen)}")
    rows.sort(key=lambda row: row[0].time, reverse=True)
    if output_format is TableOrJson.JSON:
        print(json.dumps([_json(entry, previous) for entry, previous in rows], indent=2))
        return
    table = Table(title=f"History of {app}", title_justify="left")
    for column in ("landed", "env", "kind", "version", "from", "commit"):
        table.add_column(column, no_wrap=True)
    table.add_column("by")
    table.add_column("notes")
    for entry, previous in rows:
        record = entry.record
        version = f"{previous or '∅'} → {entry.pin.tag if entry.pin else 'removed'}"
        table.add_row(
            entry.time.strftime("%Y-%m-%d %H:%MZ"),
            entry.env,
            entry.kind,
            escape(version),
            escape(record.source or "") if record else "",
            entry.commit.sha[:8],
            escape(entry.author.split(" <")[0]),
            escape(_notes(entry)),
        )
    out.print(table)


def _notes(entry: Entry) -> str:
    record = entry.record
    if record is None:
        return entry.commit.subject
    notes = []
    if record.emergency:
        notes.append(f"emergency: {record.emergency}")
    if record.break_glass:
        notes.append(f"break-glass: {record.break_glass}")
    if record.kind == "rollback" and record.reason:
        notes.append(record.reason)
    if record.released_hold:
        notes.append("released the hold")
    if record.bundle:
        notes.append(f"bundle {record.bundle}")
    return "; ".join(notes)


def _json(entry: Entry, previous: str) -> dict[str, object]:
    record = entry.record
    return {
        "env": entry.env,
        "app": entry.app,
        "kind": entry.kind,
        "landed": clock.iso(entry.time),
        "commit": entry.commit.sha,
        "subject": entry.commit.subject,
        "author": entry.author,
        "version": entry.pin.tag if entry.pin else None,
        "digest": entry.pin.digest if entry.pin else None,
        "previous": previous or None,
        "from": record.source if record else None,
        "bundle": record.bundle if record else None,
        "emergency": record.emergency if record else None,
        "break_glass": record.break_glass if record else None,
        "reason": record.reason if record else None,
    }
