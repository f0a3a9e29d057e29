"""Durations as the spec writes them (Prometheus style: `250ms`, `1s500ms`, `2h`), and the latency
bounds the apps' request histograms can measure."""

from __future__ import annotations

import re
from decimal import Decimal

_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
    "w": Decimal(604800),
    "y": Decimal(31536000),
}

# Upper bounds (seconds) of grpc_server_handling_seconds as both apps export it: client_golang's
# DefBuckets. tests/observability checks this against the /metrics of the running services.
HISTOGRAM_BOUNDS = tuple(
    Decimal(b) for b in ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10")
)


def seconds(text: str) -> Decimal:
    """`text` in seconds; ValueError naming it when it is not a duration."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 15m, 12h, 7d)")
    return sum((Decimal(n) * _UNIT_SECONDS[u] for n, u in parts), Decimal(0))


def text(value: Decimal) -> str:
    """Seconds as the spec writes durations (whole units only): 0.25 → 250ms, 2.5 → 2s500ms."""
    whole, fraction = divmod(value, 1)
    millis = fraction * 1000
    written = f"{whole:.0f}s" if whole else ""
    return written + (f"{millis:.0f}ms" if millis else "") or "0s"


def histogram_bound(threshold: str) -> Decimal:
    """The histogram bound equal to `threshold`; any other latency threshold cannot be counted."""
    bound = seconds(threshold)
    if bound not in HISTOGRAM_BOUNDS:
        allowed = ", ".join(text(b) for b in HISTOGRAM_BOUNDS)
        raise ValueError(
            f"{threshold} is not an upper bound of the grpc_server_handling_seconds histogram the apps "
            f"export, so requests slower than it cannot be counted; use one of: {allowed}"
        )
    return bound
