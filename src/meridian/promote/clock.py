"""The time promotions are judged at, and durations as people write and read them.

Soak times and freeze windows depend on "now". Every command takes it from here, so tests and
what-if runs set MERIDIAN_NOW (ISO 8601) instead of waiting for the clock.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

from meridian_core.errors import InputError

NOW_VARIABLE = "MERIDIAN_NOW"

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:\d+[wdhms])+$")


def now() -> datetime:
    value = os.environ.get(NOW_VARIABLE, "").strip()
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{NOW_VARIABLE}={value!r} is not an ISO 8601 time", hint="e.g. 2026-06-04T10:00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_duration(text: str) -> int:
    """Seconds in `1h30m`, `24h`, `2d`, `0s`; ValueError for anything else."""
    compact = text.replace(" ", "").lower()
    if not _DURATION.match(compact):
        raise ValueError(f"{text!r} is not a duration; write it like 30m, 24h, 2d or 1h30m")
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([wdhms])", compact))


def format_duration(seconds: float) -> str:
    """The two largest units: `2d 3h`, `45m`, `30s`; negative durations read as 0s."""
    left = max(int(seconds), 0)
    parts = []
    for unit, size in _UNITS.items():
        if unit == "w":
            continue
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2]) or "0s"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
