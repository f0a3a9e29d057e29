"""Which freeze windows of an environment are open at a given moment, and until when.

Weekly windows repeat in the freeze's time zone (`Fri 16:00` to `Mon 08:00` wraps the weekend);
dated windows are one-off local date-times. Python answers "which are open"; the Rego rules decide
what an open window means for a promotion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from meridian.promote.config import Freeze

_WEEK = 7 * 1440


@dataclass(frozen=True)
class ActiveWindow:
    name: str
    reason: str
    until: datetime  # UTC

    def as_input(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason, "until": self.until.strftime("%Y-%m-%dT%H:%MZ")}


def active_windows(freeze: Freeze | None, now: datetime) -> list[ActiveWindow]:
    if freeze is None:
        return []
    zone = freeze.zone
    local = now.astimezone(zone)
    minute = local.weekday() * 1440 + local.hour * 60 + local.minute
    found = []
    for window in freeze.weekly:
        wraps = window.start > window.end
        inside = (
            (window.start <= minute or minute < window.end) if wraps else window.start <= minute < window.end
        )
        if inside:
            # Minutes to the window's end, counted forward through the week; local wall-clock
            # arithmetic, so a window ending "Mon 08:00" ends at 08:00 even across a DST change.
            left = (window.end - minute) % _WEEK
            start_of_minute = local.replace(second=0, microsecond=0, tzinfo=None)
            until = (start_of_minute + timedelta(minutes=left)).replace(tzinfo=zone)
            found.append(ActiveWindow(window.name, window.reason, until.astimezone(UTC)))
    for dated in freeze.dates:
        start, end = dated.start.replace(tzinfo=zone), dated.end.replace(tzinfo=zone)
        if start <= now < end:
            found.append(ActiveWindow(dated.name, dated.reason, end.astimezone(UTC)))
    return found
