"""environments/promotion.yaml: the promotion order, soak times, digest rules, freeze windows, bundles.

One file, read from the same snapshot (commit or working tree) as the versions it judges, so a
pull request cannot relax the rules it is checked against: `promote check` reads it from BASE.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Generic, Self, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meridian_core.errors import InputError
from meridian_core.layout import environment_file, spec_path
from meridian_core.snapshot import Snapshot
from meridian_core.yamlmodel import load_model
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from meridian.promote.clock import parse_duration

PROMOTION_FILE = environment_file("promotion.yaml")

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEK_TIME = re.compile(r"^(?P<day>[A-Za-z]{3})[a-z]*\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def _seconds(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if value == 0:
            return 0
        raise ValueError("write a duration with its unit, e.g. 30m, 24h or 2d")
    if not isinstance(value, str):
        raise ValueError("must be a duration such as 30m, 24h or 2d")
    return parse_duration(value)


def _minute_of_week(value: Any) -> int:
    """`Fri 16:00` as minutes since Monday 00:00."""
    match = _WEEK_TIME.match(str(value).strip())
    day = match.group("day").lower() if match else ""
    if match is None or day not in _DAYS:
        raise ValueError(f"{value!r} is not a day and a time; write it like 'Fri 16:00'")
    hour, minute = int(match.group("hour")), int(match.group("minute"))
    if hour > 23 or minute > 59:
        raise ValueError(f"{value!r}: the time must be between 00:00 and 23:59")
    return _DAYS.index(day) * 1440 + hour * 60 + minute


def _local_time(value: Any) -> datetime:
    """`2026-12-18 12:00` in the window's time zone (so no offset may be written)."""
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date and time; write it like '2026-12-18 12:00'") from None
    if moment.tzinfo is not None:
        raise ValueError("write the time without an offset; the freeze's timezone applies")
    return moment


Seconds = Annotated[int, BeforeValidator(_seconds)]
MinuteOfWeek = Annotated[int, BeforeValidator(_minute_of_week)]
LocalTime = Annotated[datetime, BeforeValidator(_local_time)]
Moment = TypeVar("Moment")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Window(_Model, Generic[Moment]):
    """A freeze window: its name, the two moments it lies between (`from`, `to`), and why."""

    name: str
    start: Moment = Field(alias="from")
    end: Moment = Field(alias="to")
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _valid(self) -> Self:
        problem = self.problem()
        if problem:
            raise ValueError(problem)
        return self

    def problem(self) -> str:
        """What is wrong with `from` and `to` together; "" when nothing is."""
        raise NotImplementedError


class WeeklyWindow(_Window[MinuteOfWeek]):
    """A window that comes back every week, e.g. from Friday afternoon to Monday morning."""

    def problem(self) -> str:
        return "from and to are the same moment; the window would be empty" if self.start == self.end else ""


class DatedWindow(_Window[LocalTime]):
    """A one-off window between two local times, e.g. the year-end change freeze."""

    def problem(self) -> str:
        return "to must be after from" if self.end <= self.start else ""


class Freeze(_Model):
    timezone: str = "UTC"
    weekly: list[WeeklyWindow] = []
    dates: list[DatedWindow] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class EnvironmentRules(_Model):
    soak: Seconds = 0  # how long a version runs here before it may move to the next environment
    require_digest: bool = Field(default=False, alias="requireDigest")
    freeze: Freeze | None = None


class PromotionConfig(_Model):
    order: list[str] = Field(min_length=1)
    environments: dict[str, EnvironmentRules]
    bundles: dict[str, list[str]] = {}

    @field_validator("order")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        seen = [env for i, env in enumerate(value) if env in value[:i]]
        if seen:
            raise ValueError(f"{seen[0]!r} appears twice; each environment has one place in the order")
        return value

    @field_validator("bundles")
    @classmethod
    def _bundles(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        owner: dict[str, str] = {}
        for name, apps in value.items():
            if not _NAME.match(name):
                raise ValueError(f"bundle name {name!r} must be lower-case letters, digits and dashes")
            if len(set(apps)) < 2:
                raise ValueError(f"bundle {name!r} needs at least two different apps")
            for app in apps:
                if app in owner:
                    raise ValueError(f"app {app!r} is in bundles {owner[app]!r} and {name!r}; one at most")
                owner[app] = name
        return value

    @model_validator(mode="after")
    def _every_environment_declared(self) -> PromotionConfig:
        missing = [env for env in self.order if env not in self.environments]
        extra = [env for env in self.environments if env not in self.order]
        if missing:
            raise ValueError(f"environments lacks {', '.join(missing)}, which the order names")
        if extra:
            raise ValueError(f"environments has {', '.join(extra)}, which the order does not name")
        return self

    def rules(self, env: str) -> EnvironmentRules:
        return self.environments[env]

    def previous(self, env: str) -> str | None:
        index = self.order.index(env)
        return self.order[index - 1] if index > 0 else None

    def bundle_of(self, app: str) -> str | None:
        return next((name for name, apps in self.bundles.items() if app in apps), None)

    def require_environment(self, env: str) -> str:
        if env not in self.order:
            raise InputError(
                f"unknown environment {env!r}", hint=f"the promotion order is {' → '.join(self.order)}"
            )
        return env


def load_config(snapshot: Snapshot) -> PromotionConfig:
    where = snapshot.describe(PROMOTION_FILE)
    raw = snapshot.read(PROMOTION_FILE)
    if raw is None:
        raise InputError(
            f"{where}: no such file; promotions need their order and rules",
            hint="see docs/promotions.md for the format, and commit the file",
        )
    config = load_model(PromotionConfig, raw.decode(), where, hint="see docs/promotions.md for the format")
    for env in config.order:
        if not snapshot.exists(spec_path(env)):
            raise InputError(f"{where}: order names {env!r}, but {spec_path(env)} is missing")
    apps = {app for env in config.order for app in snapshot.apps(env)}
    for name, members in config.bundles.items():
        if name in apps:
            raise InputError(f"{where}: bundle {name!r} has the name of an app; rename the bundle")
        unknown = [app for app in members if app not in apps]
        if unknown:
            raise InputError(f"{where}: bundle {name!r} names unknown app(s): {', '.join(unknown)}")
    return config
