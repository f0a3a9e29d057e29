"""Environment locks and app holds: small YAML files that travel through git and pull requests.

    environments/<env>/lock.yaml    the environment is locked: promotions refused (break-glass aside)
    environments/<env>/holds.yaml   apps held at a version after a rollback, until released

Both live beside apps/, never inside it: the ApplicationSet makes an Application of every folder
under apps/, and a file next to them is no folder.
"""

from __future__ import annotations

from datetime import datetime
from io import StringIO

from meridian_core.layout import environment_path
from meridian_core.snapshot import Snapshot
from meridian_core.yamlmodel import load_model
from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

from meridian.promote.clock import iso


def lock_path(env: str) -> str:
    return f"{environment_path(env)}/lock.yaml"


def holds_path(env: str) -> str:
    return f"{environment_path(env)}/holds.yaml"


class Lock(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str = Field(min_length=1)
    by: str = ""
    since: str = ""  # ISO 8601, as written by `meridian lock`


class Hold(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    by: str = ""
    since: str = ""


class _Holds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    holds: dict[str, Hold] = {}


def read_lock(snapshot: Snapshot, env: str) -> Lock | None:
    raw = snapshot.read(lock_path(env))
    if raw is None:
        return None
    return load_model(Lock, raw.decode(), snapshot.describe(lock_path(env)), hint=_LOCK_HINT)


def read_holds(snapshot: Snapshot, env: str) -> dict[str, Hold]:
    raw = snapshot.read(holds_path(env))
    if raw is None:
        return {}
    return load_model(_Holds, raw.decode(), snapshot.describe(holds_path(env)), hint=_HOLDS_HINT).holds


_LOCK_HINT = "lock.yaml holds reason, by and since; `meridian unlock ENV` removes it"
_HOLDS_HINT = "holds.yaml maps `holds: {APP: {version, reason, by, since}}`"


def lock_text(env: str, reason: str, by: str, since: datetime) -> str:
    header = (
        f"# {env} is locked: promotions into it are refused until this file is removed\n"
        f"# (`meridian unlock {env}`), unless a promotion gives --break-glass with a reason.\n"
    )
    return header + _dump({"reason": reason, "by": by, "since": iso(since)})


def holds_text(env: str, holds: dict[str, Hold]) -> str | None:
    """The new holds.yaml, or None when no hold is left (the file is then removed)."""
    if not holds:
        return None
    header = (
        f"# Apps held at a version in {env} after a rollback: promotions of them into {env} are\n"
        "# refused until released (`meridian promote APP --to ENV --release-hold`).\n"
    )
    body = {app: hold.model_dump() for app, hold in sorted(holds.items())}
    return header + _dump({"holds": body})


def _dump(data: object) -> str:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096
    buffer = StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()
