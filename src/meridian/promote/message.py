"""Commit messages of promotions, rollbacks and locks, and the git trailers that make them auditable.

    promote orders 1.1.0 to prod

    Moves orders from 1.0.0 to 1.1.0 in prod, as staging runs it since 2026-06-02T10:00:00Z.
    Policy gate: prod: passed: 71 objects in 10 files, 0 denied, 0 warnings, 0 exemptions

    Meridian-Kind: promotion
    Meridian-From: staging
    Meridian-To: prod
    Meridian-App: orders
    Meridian-Version: 1.1.0
    Meridian-Digest: sha256:…
    Meridian-Previous-Version: 1.0.0

Unit-wide trailers come first; each `Meridian-App` then opens the group of one app (a bundle has
several), so `history` and `promote check` can read them back without guessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PREFIX = "Meridian-"
KIND, BUNDLE, FROM, TO, APP = "Kind", "Bundle", "From", "To", "App"
VERSION, DIGEST, PREVIOUS, PREVIOUS_DIGEST = "Version", "Digest", "Previous-Version", "Previous-Digest"
EMERGENCY, BREAK_GLASS, RELEASED_HOLD, GATE, REASON = (
    "Emergency",
    "Break-Glass",
    "Released-Hold",
    "Gate",
    "Reason",
)
_APP_KEYS = (VERSION, DIGEST, PREVIOUS, PREVIOUS_DIGEST, RELEASED_HOLD)


@dataclass(frozen=True)
class AppRecord:
    """One app of a promotion or rollback commit, with the commit-wide facts beside it."""

    app: str
    kind: str
    version: str
    digest: str | None
    previous: str | None
    to: str
    source: str | None = None  # the environment promoted from
    bundle: str | None = None
    emergency: str | None = None
    break_glass: str | None = None
    reason: str | None = None
    released_hold: bool = False


def one_line(text: str) -> str:
    """A trailer value: one line, so a reason with newlines cannot forge another trailer."""
    return " ".join(text.split())


def trailer_block(unit: Sequence[tuple[str, str]], apps: Sequence[Sequence[tuple[str, str]]]) -> str:
    lines = [f"{PREFIX}{key}: {one_line(value)}" for key, value in unit if value]
    for group in apps:
        lines += [f"{PREFIX}{key}: {one_line(value)}" for key, value in group if value]
    return "\n".join(lines)


def records(trailers: Sequence[tuple[str, str]]) -> list[AppRecord]:
    """The app records of a commit's trailers; [] for commits no meridian command wrote."""
    unit: dict[str, str] = {}
    groups: list[dict[str, str]] = []
    for key, value in trailers:
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX) :]
        if name == APP:
            groups.append({APP: value})
        elif groups and name in _APP_KEYS:
            groups[-1][name] = value
        else:
            unit[name] = value
    if KIND not in unit:
        return []
    return [
        AppRecord(
            app=group[APP],
            kind=unit[KIND],
            version=group.get(VERSION, ""),
            digest=_none(group.get(DIGEST)),
            previous=_none(group.get(PREVIOUS)),
            to=unit.get(TO, ""),
            source=_none(unit.get(FROM)),
            bundle=unit.get(BUNDLE),
            emergency=unit.get(EMERGENCY),
            break_glass=unit.get(BREAK_GLASS),
            reason=unit.get(REASON),
            released_hold=group.get(RELEASED_HOLD) == "yes",
        )
        for group in groups
    ]


def _none(value: str | None) -> str | None:
    return None if value in (None, "", "none") else value
