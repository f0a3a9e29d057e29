"""The facts the promotion rules judge: one JSON document per app moved into one environment.

Everything time-related is computed here against an explicit `now`; the Rego side only compares
numbers and prints the strings it is given. docs/promotions.md describes the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from meridian_core.git import Git
from meridian_core.snapshot import Snapshot, version_path

from meridian.policy.model import GateReport
from meridian.promote.clock import format_duration, iso
from meridian.promote.config import PromotionConfig
from meridian.promote.freeze import active_windows
from meridian.promote.history import Entry, entries, running_since, versions_seen
from meridian.promote.state import Hold, Lock
from meridian.promote.versions import Pin, read_pin


@dataclass(frozen=True)
class AppState:
    """One app in one environment: what it pins, since when, and its landed history."""

    env: str
    app: str
    pin: Pin
    text: str  # version.yaml as it is
    since: datetime | None  # None: not committed (a working-tree change)
    history: list[Entry] = field(default_factory=list)


def app_state(git: Git, history_rev: str, snapshot: Snapshot, env: str, app: str) -> AppState | None:
    """The app's pin from `snapshot`, its history from the first-parent line of `history_rev`;
    None when the environment does not run the app."""
    path = version_path(env, app)
    raw = snapshot.read(path)
    if raw is None:
        return None
    text = raw.decode()
    pin = read_pin(text, app, snapshot.describe(path))
    history = entries(git, history_rev, env, app)
    return AppState(env, app, pin, text, running_since(history, pin), history)


@dataclass(frozen=True)
class Overrides:
    emergency: str = ""
    break_glass: str = ""
    release_hold: bool = False


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    summary: str
    # Each denied finding as `policy check` names it: rule, object, file and line, message.
    violations: tuple[str, ...] = ()

    @classmethod
    def of(cls, report: GateReport) -> GateVerdict:
        return cls(report.passed, report.summary(), tuple(f.one_line() for f in report.denied))


def app_states(
    git: Git, history_rev: str, snapshot: Snapshot, config: PromotionConfig, app: str
) -> dict[str, AppState]:
    """The app in every environment of the order that runs it."""
    found = {}
    for env in config.order:
        state = app_state(git, history_rev, snapshot, env, app)
        if state is not None:
            found[env] = state
    return found


def document(
    *,
    config: PromotionConfig,
    kind: str,
    app: str,
    to: str,
    source: str,
    new: Pin,
    states: dict[str, AppState],
    lock: Lock | None,
    hold: Hold | None,
    overrides: Overrides,
    now: datetime,
    gate: GateVerdict | None = None,
) -> dict[str, Any]:
    """The Rego input for moving `app` to `new` in `to`; `states` holds the app in every environment."""
    current = states[to].pin if to in states else None
    upstream = config.previous(to)
    soak_required = config.rules(upstream).soak if upstream else 0
    since = states[upstream].since if upstream and upstream in states else None
    elapsed = (now - since).total_seconds() if since else -1
    return {
        "kind": kind,
        "app": app,
        "from": source,
        "to": to,
        "order": list(config.order),
        "version": new.tag,
        "digest": new.digest or "",
        "image": {"repository": new.repository, "label": new.label if new.label is not None else ""},
        "current": {
            "version": current.tag if current else "",
            "digest": (current.digest or "") if current else "",
            "repository": current.repository if current else "",
        },
        "environments": {
            env: {
                "version": state.pin.tag,
                "digest": state.pin.digest or "",
                "since": iso(state.since) if state.since else "",
            }
            for env, state in states.items()
        },
        "soak": {
            "environment": upstream or "",
            "required_seconds": soak_required,
            "required": format_duration(soak_required),
            "elapsed_seconds": int(elapsed),
            "elapsed": format_duration(elapsed) if since else "an unknown time (not committed)",
            "ready_at": iso(since + timedelta(seconds=soak_required)) if since else "unknown",
        },
        "require_digest": config.rules(to).require_digest,
        "seen": versions_seen(states[to].history) if to in states else [],
        "freeze": {"active": [w.as_input() for w in active_windows(config.rules(to).freeze, now)]},
        "emergency": overrides.emergency,
        "lock": {
            "locked": lock is not None,
            "reason": lock.reason if lock else "",
            "by": lock.by if lock else "",
            "since": lock.since if lock else "",
        },
        "break_glass": overrides.break_glass,
        "hold": {
            "held": hold is not None,
            "version": hold.version if hold else "",
            "reason": hold.reason if hold else "",
        },
        "release_hold": overrides.release_hold,
        "gate": {
            "checked": gate is not None,
            "passed": gate.passed if gate else False,
            "summary": gate.summary if gate else "",
        },
        "now": iso(now),
    }
