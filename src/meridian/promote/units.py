"""What one promotion (or rollback) is made of, and how it ended.

A Unit is what lands in one commit on one branch: a single app, or every app of a bundle that
moves. A Move is one app's version change inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from meridian_core.exitcodes import ExitCode
from meridian_core.snapshot import version_path

from meridian.promote.branches import promotion_branch
from meridian.promote.facts import AppState
from meridian.promote.github import PullRequest
from meridian.promote.rules import Denial
from meridian.promote.state import Hold
from meridian.promote.versions import Pin


@dataclass
class Move:
    app: str
    env: str
    current: Pin
    new: Pin
    data: bytes  # the new version.yaml, byte for byte
    states: dict[str, AppState]  # the app in every environment, before the move
    hold: Hold | None = None  # the hold on the app in the target environment, if any
    released_hold: bool = False  # the move releases that hold

    @property
    def path(self) -> str:
        return version_path(self.env, self.app)


@dataclass
class Unit:
    name: str  # the app, or the bundle
    env: str
    kind: str  # promotion or rollback
    source: str  # the environment promoted from; "" for rollbacks and the first environment
    moves: list[Move]
    bundle: str | None = None
    files: dict[str, bytes | None] = field(default_factory=dict)  # every path the commit writes or removes
    reason: str = ""  # a rollback's reason

    @property
    def label(self) -> str:
        """The version part of the branch name: the version, or app-version pairs when they differ."""
        versions = {m.new.tag for m in self.moves}
        if len(versions) == 1:
            return versions.pop()
        return "+".join(f"{m.app}-{m.new.tag}" for m in sorted(self.moves, key=lambda m: m.app))

    @property
    def branch(self) -> str:
        return promotion_branch(self.kind, self.name, self.env, self.label)

    @property
    def apps(self) -> list[str]:
        return [m.app for m in self.moves]

    def describe(self) -> str:
        moves = ", ".join(f"{m.app} {m.new.tag}" for m in self.moves)
        if self.kind == "rollback":
            return f"rollback of {moves} in {self.env}"
        what = f"bundle {self.bundle} ({moves})" if self.bundle else moves
        return f"promotion of {what} to {self.env}"


class Status(StrEnum):
    CREATED = "created"  # committed on a new branch (and pushed, with --push)
    PLANNED = "planned"  # plan: every check ran, nothing changed
    NOTHING = "nothing to do"  # the environment already runs it
    PENDING = "already pending"  # the same promotion waits on its branch
    SKIPPED = "skipped"  # --all-changed left a held app alone
    REFUSED = "refused"  # a rule or the gate said no
    CONFLICT = "conflict"  # another promotion of the same app and environment is pending


@dataclass
class Outcome:
    name: str
    env: str
    status: Status
    message: str
    unit: Unit | None = None
    denials: list[Denial] = field(default_factory=list)
    branch: str | None = None
    commit: str | None = None
    pull_request: PullRequest | None = None
    diff: str = ""
    gate_summary: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        if self.status is Status.CONFLICT:
            return ExitCode.CONFLICT
        if self.status is Status.REFUSED or (self.status is Status.PLANNED and self.denials):
            return ExitCode.REFUSED
        return ExitCode.OK


def exit_code(outcomes: list[Outcome]) -> ExitCode:
    """A conflict outranks a refusal, which outranks success: the code says what needs doing."""
    codes = {o.exit_code for o in outcomes}
    for code in (ExitCode.CONFLICT, ExitCode.REFUSED):
        if code in codes:
            return code
    return ExitCode.OK
