"""`meridian status`: apps by environments, how long each version has run, what is ready to promote."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from meridian_core.layout import find_repo
from rich.markup import escape
from rich.table import Table

from meridian.commands.options import examples
from meridian.console import out
from meridian.promote import clock
from meridian.promote.status import Cell, StatusReport
from meridian.promote.status import status as compute

app = typer.Typer()


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


@app.command(
    "status",
    epilog=examples(
        "meridian status", "meridian status --format markdown  # as the pull request comment shows it"
    ),
)
def status(
    output_format: Annotated[
        Format,
        typer.Option("--format", "-f", help="A table for people, JSON for machines, Markdown for PRs."),
    ] = Format.TABLE,
) -> None:
    """Apps by environments: versions, how long they have run, what is ready to promote.

    Ready: every promotion rule but the policy gate holds for moving the previous environment's
    version in. Exit 0."""
    result = compute(find_repo(), clock.now())
    if output_format is Format.JSON:
        print(json.dumps(as_json(result), indent=2))
    elif output_format is Format.MARKDOWN:
        print(as_markdown(result))
    else:
        _table(result)


def _age(result: StatusReport, cell: Cell) -> str:
    if cell.pin is None:
        return ""
    if cell.since is None:
        return "not committed"
    return clock.format_duration((result.now - cell.since).total_seconds())


def _next(cell: Cell) -> str:
    """`← 1.1.0 ready`, or `← 1.1.0 waits: MER-PROMO-003 …` for the candidate from upstream."""
    if cell.candidate is None:
        return ""
    head = f"← {cell.candidate.pin.tag}"
    if cell.candidate.ready:
        return f"{head} ready"
    rules = ", ".join(dict.fromkeys(f"{d.rule} {d.title}" for d in cell.candidate.denials))
    soaking = any(d.rule == "MER-PROMO-003" for d in cell.candidate.denials)
    when = (
        f" (until {cell.candidate.ready_at:%Y-%m-%d %H:%MZ})" if soaking and cell.candidate.ready_at else ""
    )
    return f"{head} waits: {rules}{when}"


def _grid(result: StatusReport) -> list[tuple[str, list[Cell]]]:
    """Each app, with its cell in each environment of the order."""
    return [(app, [result.cell(app, env.name) for env in result.environments]) for app in result.apps]


def _table_cell(result: StatusReport, cell: Cell) -> str:
    """The version and its age; then, each on a line of its own, a hold and the next version."""
    if cell.pin is None:
        return "[dim]-[/]"
    lines = [f"{escape(cell.pin.tag)} [dim]{_age(result, cell)}[/]"]
    if cell.hold:
        lines.append(f"[yellow]held: {escape(cell.hold.reason)}[/]")
    if cell.candidate:
        lines.append(f"[{'green' if cell.candidate.ready else 'dim'}]{escape(_next(cell))}[/]")
    return "\n".join(lines)


def _markdown_cell(result: StatusReport, cell: Cell) -> str:
    if cell.pin is None:
        return "-"
    held = f"<br>held: {_md(cell.hold.reason)}" if cell.hold else ""
    ready = "✅" if cell.candidate and cell.candidate.ready else "⏳"
    upstream = f"<br>{ready} {_md(_next(cell))}" if cell.candidate else ""
    return f"`{cell.pin.tag}` ({_age(result, cell)}){held}{upstream}"


def _table(result: StatusReport) -> None:
    table = Table(
        title=f"Promotion status at {clock.iso(result.now)} (HEAD {result.head[:10]})", title_justify="left"
    )
    table.add_column("app", style="bold")
    for env in result.environments:
        table.add_column(
            env.name
            + (" [red](locked)[/]" if env.lock else "")
            + (" [yellow](frozen)[/]" if env.frozen else "")
        )
    for app, cells in _grid(result):
        table.add_row(app, *(_table_cell(result, cell) for cell in cells))
    out.print(table)
    for env in result.environments:
        last = env is result.environments[-1]
        facts = ([] if last else [f"soak {clock.format_duration(env.soak)}"]) + (
            ["digests required"] if env.require_digest else []
        )
        if env.lock:
            facts.append(f"locked since {env.lock.since} by {env.lock.by}: {env.lock.reason}")
        facts += [f"frozen until {w.until:%Y-%m-%d %H:%MZ} ({w.name})" for w in env.frozen]
        out.print(f"  [bold]{env.name}[/]: {escape('; '.join(facts))}")
    ready = [f"{c.app} {c.candidate.pin.tag} → {c.env}" for c in result.ready if c.candidate]
    out.print(f"Ready to promote: {escape(', '.join(ready)) if ready else 'nothing'}")


def as_json(result: StatusReport) -> dict[str, Any]:
    return {
        "generated_at": clock.iso(result.now),
        "head": result.head,
        "order": [env.name for env in result.environments],
        "environments": {
            env.name: {
                "soak_seconds": env.soak,
                "require_digest": env.require_digest,
                "lock": env.lock.model_dump() if env.lock else None,
                "frozen": [w.as_input() for w in env.frozen],
            }
            for env in result.environments
        },
        "apps": {
            app: {env.name: _cell_json(result, result.cell(app, env.name)) for env in result.environments}
            for app in result.apps
        },
        "ready": [
            {"app": c.app, "from": c.candidate.source, "to": c.env, "version": c.candidate.pin.tag}
            for c in result.ready
            if c.candidate
        ],
    }


def _cell_json(result: StatusReport, cell: Cell) -> dict[str, Any] | None:
    if cell.pin is None:
        return None
    candidate = cell.candidate
    return {
        "version": cell.pin.tag,
        "digest": cell.pin.digest,
        "since": clock.iso(cell.since) if cell.since else None,
        "age_seconds": int((result.now - cell.since).total_seconds()) if cell.since else None,
        "hold": cell.hold.model_dump() if cell.hold else None,
        "next": {
            "version": candidate.pin.tag,
            "digest": candidate.pin.digest,
            "from": candidate.source,
            "ready": candidate.ready,
            "denials": [{"rule": d.rule, "title": d.title, "message": d.message} for d in candidate.denials],
        }
        if candidate
        else None,
    }


def as_markdown(result: StatusReport) -> str:
    envs = [info.name for info in result.environments]
    lines = [
        "### Promotion status",
        "",
        "| app | " + " | ".join(envs) + " |",
        "| --- |" + " --- |" * len(envs),
    ]
    for app, cells in _grid(result):
        lines.append(f"| {app} | " + " | ".join(_markdown_cell(result, cell) for cell in cells) + " |")
    lines.append("")
    for info in result.environments:
        if info.lock:
            lines.append(f"- **{info.name} is locked** since {info.lock.since}: {_md(info.lock.reason)}")
        lines += [
            f"- **{info.name} is frozen** until {clock.iso(w.until)} ({_md(w.name)})" for w in info.frozen
        ]
    ready = [f"{c.app} `{c.candidate.pin.tag}` → {c.env}" for c in result.ready if c.candidate]
    lines.append(f"- Ready to promote: {', '.join(ready) if ready else 'nothing'}")
    lines.append(f"\n_As of {clock.iso(result.now)}, HEAD `{result.head[:10]}`._")
    return "\n".join(lines)


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")
