"""What people read about a promotion: its commit message and its pull request's title and body."""

from __future__ import annotations

from collections.abc import Sequence

from meridian.promote import message as m
from meridian.promote.clock import iso
from meridian.promote.facts import Overrides
from meridian.promote.units import Unit

# GitHub rejects bodies over 65536 characters; the diff gives way first.
_MAX_DIFF = 50_000


def refusal_lines(denials: Sequence[object], violations: Sequence[str]) -> list[str]:
    """The rules that refuse, then each finding of a failed policy gate as `policy check` names it."""
    lines = [f"  {d}" for d in denials]
    if violations:
        lines.append(f"  policy gate: {len(violations)} denied")
        lines += [f"    {v}" for v in violations]
    return lines


def title(unit: Unit) -> str:
    if unit.kind == "rollback":
        move = unit.moves[0]
        return f"rollback {move.app} to {move.new.tag} in {unit.env}"
    if unit.bundle:
        versions = ", ".join(f"{mv.app} {mv.new.tag}" for mv in unit.moves)
        return f"promote bundle {unit.bundle} to {unit.env} ({versions})"
    move = unit.moves[0]
    return f"promote {move.app} {move.new.tag} to {unit.env}"


def commit_message(unit: Unit, overrides: Overrides, gate_summary: str, checkers: tuple[str, ...]) -> str:
    lines = []
    for move in unit.moves:
        before = move.current.tag
        if unit.kind == "rollback":
            lines.append(
                f"Rolls {move.app} back from {before} to {move.new.tag} in {unit.env}, restoring the"
            )
            lines.append(f"file's exact bytes from history; {move.app} is held there until released.")
        else:
            since = move.states[unit.source].since if unit.source and unit.source in move.states else None
            where = f", as {unit.source} runs it since {iso(since)}" if since else ""
            lines.append(f"Moves {move.app} from {before} to {move.new.tag} in {unit.env}{where}.")
    lines.append(f"Policy gate ({', '.join(checkers)}): {gate_summary}")
    unit_trailers = [
        (m.KIND, unit.kind),
        (m.BUNDLE, unit.bundle or ""),
        (m.FROM, unit.source),
        (m.TO, unit.env),
        (m.EMERGENCY, overrides.emergency),
        (m.BREAK_GLASS, overrides.break_glass),
        (m.REASON, unit.reason),
        (m.GATE, ",".join(checkers)),
    ]
    app_trailers = [
        [
            (m.APP, move.app),
            (m.VERSION, move.new.tag),
            (m.DIGEST, move.new.digest or "none"),
            (m.PREVIOUS, move.current.tag),
            (m.PREVIOUS_DIGEST, move.current.digest or "none"),
            (m.RELEASED_HOLD, "yes" if move.released_hold else ""),
        ]
        for move in unit.moves
    ]
    return (
        f"{title(unit)}\n\n" + "\n".join(lines) + "\n\n" + m.trailer_block(unit_trailers, app_trailers) + "\n"
    )


def pull_request_body(
    unit: Unit, overrides: Overrides, gate_summary: str, checkers: tuple[str, ...], diff: str
) -> str:
    rows = []
    for move in unit.moves:
        state = move.states.get(unit.source) if unit.source else None
        since = f" (since {iso(state.since)})" if state and state.since else ""
        source = f"{unit.source}{since}" if unit.source else "-"
        digest = f"`{move.new.digest}`" if move.new.digest else "none"
        rows.append(f"| {move.app} | {source} | {move.current.tag} | **{move.new.tag}** | {digest} |")
    command = "rollback" if unit.kind == "rollback" else "promote"
    parts = [
        f"## {title(unit)}",
        "",
        "| app | from | previous | version | digest |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"**Promotion rules:** every MER-PROMO rule holds (`meridian {command}`).",
    ]
    if overrides.emergency:
        parts.append(f"**Emergency override of a freeze window:** {m.one_line(overrides.emergency)}")
    if overrides.break_glass:
        parts.append(f"**Break-glass override of the environment lock:** {m.one_line(overrides.break_glass)}")
    if unit.kind == "rollback":
        parts.append(
            f"**Hold:** {unit.moves[0].app} stays at {unit.moves[0].new.tag} in {unit.env} until released."
        )
    if any(move.released_hold for move in unit.moves):
        parts.append("**Releases the hold** a rollback put on this app.")
    shown = (
        diff if len(diff) <= _MAX_DIFF else diff[:_MAX_DIFF] + "\n… (diff cut; run `meridian promote plan`)\n"
    )
    parts += [
        f"**Policy gate** ({', '.join(checkers)}): {gate_summary}",
        "",
        f"<details open><summary>Rendered manifests of {unit.env} that change</summary>",
        "",
        "```diff",
        shown.rstrip("\n") or "(no rendered change)",
        "```",
        "</details>",
        "",
        "`meridian promote check` runs on this pull request and again at merge time.",
    ]
    return "\n".join(parts) + "\n"
