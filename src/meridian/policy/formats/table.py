"""The report for people: findings grouped by object, exemptions, and a summary line."""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from meridian.policy.model import Finding, GateReport, Severity

_SEVERITY_STYLE = {Severity.DENY: "[bold red]deny[/]", Severity.WARN: "[yellow]warn[/]"}


def _where(file: str, line: int | None) -> str:
    return f"{file}:{line}" if line else file


def _group(finding: Finding) -> tuple[str, str]:
    return (finding.environment or "", str(finding.obj) if finding.obj else finding.file)


def render(report: GateReport, console: Console) -> None:
    if report.findings:
        several_envs = len(report.environments) > 1
        table = Table(title="Policy findings", title_justify="left", show_lines=False, expand=False)
        for column in ("object", "rule", "severity", "message", "file"):
            table.add_column(column, overflow="fold")
        ordered = sorted(report.findings, key=lambda f: (_group(f), f.severity != Severity.DENY, f.rule))
        for index, ((env, obj), findings) in enumerate(groupby(ordered, key=_group)):
            if index:
                table.add_section()
            label = escape(f"{obj} ({env})" if several_envs and env else obj)
            for row, finding in enumerate(findings):
                table.add_row(
                    f"[bold]{label}[/]" if row == 0 else "",
                    finding.rule,
                    _SEVERITY_STYLE[finding.severity],
                    escape(finding.detail),
                    escape(finding.where),
                )
        console.print(table)
    if report.exemptions:
        table = Table(title="Exemptions", title_justify="left")
        for column in ("object", "rule", "status", "expires", "reason", "file"):
            table.add_column(column, overflow="fold")
        for e in report.exemptions:
            status = "[green]active[/]" if e.status == "active" else f"[red]{e.status}[/]"
            cells = (str(e.obj), e.rule, status, e.expires or "-", e.reason or "-", _where(e.file, e.line))
            table.add_row(*(cell if cell is status else escape(cell) for cell in cells))
        console.print(table)
    timing = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in report.seconds.items())
    style = "green" if report.passed else "bold red"
    console.print(f"[{style}]{escape(report.summary())}[/] [dim]({timing})[/]")
