"""Crafted histories of an app's traffic for promtool's rule unit tests.

A story is a list of phases, each some minutes long at a given burn: the bad share as a multiple of
the budget. The same multiples drive the share of failing requests (availability) and of slow unary
requests (latency), so one story exercises both objectives. After each phase a checkpoint compares
the alerts promtool sees firing with what the story's arithmetic says (both windows of a pair above
its factor), and the phases are chosen so that every pair is seen firing, held back by its short
window (the problem is over) and held back by its long window (a blip); `demos` says which phase
shows what, and a test holds the arithmetic to it. Margins are wide: no window at a checkpoint is
within 4% of its pair's factor, so nothing hangs on rounding.

Two stories, because 5m windows need a sample a minute and 3d windows need days of samples, and
both at once would make promtool evaluate every rule thousands of times over days of samples.

Alongside the app's own traffic come series the rules must ignore: client errors, health checks,
streams and another namespace's failures. Were any of them counted, the quiet checkpoints would fire.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from meridian_infra.observability import slo

MINUTES = {"5m": 5, "30m": 30, "1h": 60, "2h": 120, "6h": 360, "1d": 1440, "3d": 4320}

REQUESTS_PER_MINUTE = Decimal(10000)
CLIENT_ERROR_SHARE = Decimal("0.05")  # InvalidArgument: the caller's fault, never the budget's
HEALTH_CHECKS_PER_MINUTE = Decimal(50000)
STREAMS_PER_MINUTE = Decimal(100)
# Counters start this many samples' worth up, as on a server that has been running a while: rate()
# limits its extrapolation at a counter's zero start, which would skew a ratio's numerator but not
# its denominator.
START_SAMPLES = 1000


@dataclass(frozen=True)
class Phase:
    minutes: int
    burn: Decimal  # bad share, as a multiple of the budget


@dataclass(frozen=True)
class Demo:
    """What a checkpoint shows for one burn-rate pair (named by its long window)."""

    pair: str
    state: str  # FIRES, HELD_BY_SHORT (the problem is over) or HELD_BY_LONG (a blip)


FIRES, HELD_BY_SHORT, HELD_BY_LONG = "fires", "held back by the short window", "held back by the long window"
PAIRS = {burn.long: (burn.short, burn.factor) for burn in slo.BURN_RATES}


@dataclass(frozen=True)
class Story:
    """Phases sampled every `resolution` minutes; after phase i, `demos[i]` says what it shows."""

    name: str
    resolution: int
    # Rules run this often (minutes). Checkpoints fall on evaluations, and alerts have no `for`, so
    # evaluating between them would only cost time.
    evaluate_every: int
    phases: tuple[Phase, ...]
    demos: dict[int, tuple[Demo, ...]]

    @property
    def ends(self) -> tuple[int, ...]:
        return tuple(itertools.accumulate(p.minutes for p in self.phases))

    @property
    def minutes(self) -> int:
        return self.ends[-1]

    def burn_at(self, minute: int) -> Decimal:
        """The burn of the requests counted in `minute` (1-based: minute 1 is the first)."""
        for end, phase in zip(self.ends, self.phases, strict=True):
            if minute <= end:
                return phase.burn
        raise ValueError(f"minute {minute} is past the story's end {self.minutes}")

    def window_burn(self, minute: int, window: str) -> Decimal | None:
        """Mean burn over the window ending at `minute`, as rate() sees it over [minute - window, minute]:
        the increase between the first and last sample in it (traffic is constant, so the ratio of two
        rates is the mean). None where the window holds fewer than the two samples rate() needs."""
        if MINUTES[window] // self.resolution + 1 < 2:
            return None
        span = min(MINUTES[window], minute)
        return sum((self.burn_at(m) for m in range(minute - span + 1, minute + 1)), Decimal(0)) / span

    def firing(self, minute: int) -> set[str]:
        """The pairs whose alert fires at `minute`: both windows above the pair's factor."""
        fired = set()
        for long, (short, factor) in PAIRS.items():
            lw, sw = self.window_burn(minute, long), self.window_burn(minute, short)
            if lw is not None and sw is not None and lw > factor and sw > factor:
                fired.add(long)
        return fired

    def state(self, minute: int, pair: str) -> str:
        short, factor = PAIRS[pair]
        long_above = (self.window_burn(minute, pair) or 0) > factor
        short_above = (self.window_burn(minute, short) or 0) > factor
        if long_above and short_above:
            return FIRES
        if long_above:
            return HELD_BY_SHORT
        return HELD_BY_LONG if short_above else "quiet"

    def closest_margin(self) -> Decimal:
        """How near any window at any checkpoint comes to its pair's factor, relative to the factor."""
        margins = []
        for minute in self.ends:
            for long, (short, factor) in PAIRS.items():
                for window in (long, short):
                    burn = self.window_burn(minute, window)
                    if burn is not None:
                        margins.append(abs(burn / factor - 1))
        return min(margins)


def _demos(*pairs: tuple[str, str]) -> tuple[Demo, ...]:
    return tuple(Demo(pair, state) for pair, state in pairs)


# Minute by minute, for the pairs whose short window is minutes long.
FAST = Story(
    name="fast",
    resolution=1,
    evaluate_every=5,
    phases=(
        Phase(240, Decimal("0.5")),  # four hours well inside the budget
        Phase(60, Decimal(20)),  # an hour at 20x
        Phase(10, Decimal(0)),  # ten quiet minutes
        Phase(360, Decimal(8)),  # six hours at 8x
        Phase(40, Decimal(0)),  # forty quiet minutes
        Phase(5, Decimal(30)),  # a five-minute spike at 30x
    ),
    demos={
        1: _demos(("1h", FIRES), ("6h", HELD_BY_LONG)),
        2: _demos(("1h", HELD_BY_SHORT)),
        3: _demos(("6h", FIRES)),
        4: _demos(("6h", HELD_BY_SHORT)),
        5: _demos(("1h", HELD_BY_LONG)),
    },
)

# Every quarter of an hour over days, for the pairs whose windows are hours and days long.
SLOW = Story(
    name="slow",
    resolution=15,
    evaluate_every=60,
    phases=(
        Phase(3960, Decimal("0.5")),  # two and three-quarter days well inside the budget
        Phase(360, Decimal(2)),  # six hours at twice the budget
        Phase(360, Decimal(0)),  # six quiet hours
        Phase(120, Decimal(10)),  # two hours at 10x
        Phase(360, Decimal(10)),  # six more
        Phase(120, Decimal(0)),  # two quiet hours
        Phase(360, Decimal(0)),  # six more
    ),
    demos={
        1: _demos(("3d", HELD_BY_LONG)),
        3: _demos(("1d", HELD_BY_LONG), ("3d", HELD_BY_LONG)),
        4: _demos(("1d", FIRES), ("3d", FIRES)),
        5: _demos(("1d", HELD_BY_SHORT)),
        6: _demos(("3d", HELD_BY_SHORT)),
    },
)

STORIES = (FAST, SLOW)


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def counter(increments: list[Decimal]) -> str:
    """promtool's expanding notation for a counter growing by increments[i] up to sample i+1."""
    value = sum(increments[:1], Decimal(0)) * START_SAMPLES
    parts = [_number(value)]
    for increment, run in itertools.groupby(increments):
        n = len(list(run))
        parts.append(f"{_number(value + increment)}+{_number(increment)}x{n - 1}")
        value += increment * n
    return " ".join(parts)


def per_sample(
    story: Story,
    rate: Decimal | None = None,
    share_of_burn: Decimal | None = None,
    *,
    budget: Decimal = Decimal(0),
) -> list[Decimal]:
    """Increments between samples: a constant `rate` per minute, or that share of the story's bad
    requests (burn times budget of REQUESTS_PER_MINUTE)."""
    increments = []
    for sample in range(1, story.minutes // story.resolution + 1):
        if rate is not None:
            increments.append(rate * story.resolution)
            continue
        assert share_of_burn is not None
        minutes = range((sample - 1) * story.resolution + 1, sample * story.resolution + 1)
        bad = sum((story.burn_at(m) for m in minutes), Decimal(0))
        increments.append(REQUESTS_PER_MINUTE * bad * budget * share_of_burn)
    return increments


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def input_series(
    story: Story, app: str, error_budget: Decimal, latency_budget: Decimal, le: str
) -> list[dict[str, str]]:
    """Counters and histogram series of one app, as its pods would export them over the story."""
    api = {
        "namespace": app,
        "grpc_service": f"meridian.{app}.v1.{app.title()}Service",
        "grpc_method": "Do",
        "grpc_type": "unary",
    }
    health = {**api, "grpc_service": "grpc.health.v1.Health", "grpc_method": "Check"}
    stream = {**api, "grpc_method": "Watch", "grpc_type": "server_stream"}
    every = per_sample(story, REQUESTS_PER_MINUTE)
    client_errors = per_sample(story, REQUESTS_PER_MINUTE * CLIENT_ERROR_SHARE)
    failed_half = per_sample(story, share_of_burn=Decimal("0.5"), budget=error_budget)
    ok = [n - c - 2 * f for n, c, f in zip(every, client_errors, failed_half, strict=True)]
    slow = per_sample(story, share_of_burn=Decimal(1), budget=latency_budget)
    fast = [n - s for n, s in zip(every, slow, strict=True)]
    streams = per_sample(story, STREAMS_PER_MINUTE)
    handled = "grpc_server_handled_total"
    bucket = "grpc_server_handling_seconds_bucket"
    count = "grpc_server_handling_seconds_count"
    series = [
        (handled + _labels(**api, grpc_code="OK"), ok),
        (handled + _labels(**api, grpc_code="InvalidArgument"), client_errors),
        (handled + _labels(**api, grpc_code="Internal"), failed_half),
        (handled + _labels(**api, grpc_code="DeadlineExceeded"), failed_half),
        (handled + _labels(**health, grpc_code="OK"), per_sample(story, HEALTH_CHECKS_PER_MINUTE)),
        (bucket + _labels(**api, le=le), fast),
        (bucket + _labels(**api, le="+Inf"), every),
        (count + _labels(**api), every),
        # A stream lasts as long as its client watches: always "slow", and none of the latency SLO's
        # business.
        (bucket + _labels(**stream, le=le), per_sample(story, Decimal(0))),
        (bucket + _labels(**stream, le="+Inf"), streams),
        (count + _labels(**stream), streams),
    ]
    return [{"series": name, "values": counter(values)} for name, values in series]


def other_namespace_failing(story: Story, le: str) -> list[dict[str, str]]:
    """Another app failing every request, slowly: it must not count against anyone's budget here."""
    labels = {
        "namespace": "elsewhere",
        "grpc_service": "meridian.elsewhere.v1.ElsewhereService",
        "grpc_method": "Do",
        "grpc_type": "unary",
    }
    everything = counter(per_sample(story, REQUESTS_PER_MINUTE))
    nothing = counter(per_sample(story, Decimal(0)))
    return [
        {
            "series": "grpc_server_handled_total" + _labels(**labels, grpc_code="Unavailable"),
            "values": everything,
        },
        {"series": "grpc_server_handling_seconds_bucket" + _labels(**labels, le=le), "values": nothing},
        {"series": "grpc_server_handling_seconds_count" + _labels(**labels), "values": everything},
    ]
