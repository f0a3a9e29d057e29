"""Parse durations written the way Go writes them ("20s", "1m30s", "250ms"), so both services read
SHUTDOWN_GRACE_PERIOD and the other duration variables identically."""

from __future__ import annotations

import re

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration; ValueError with the accepted form when it is not one."""
    value = text.strip()
    if value == "0":
        return 0.0
    position = 0
    total = 0.0
    while position < len(value):
        match = _PART.match(value, position)
        if match is None:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not value or position != len(value):
        raise ValueError(f"{text!r} is not a duration; write it like 20s, 1m30s or 500ms")
    return total
