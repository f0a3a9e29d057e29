"""The promotion status of a checkout: apps by environments, how long each version has run, and
which apps are ready to move on (every promotion rule but the policy gate holds).

Versions, promotion.yaml, locks and holds come from the working tree (what is checked out, like
`meridian render`); "since" comes from the history of HEAD.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from meridian_core.errors import InputError
from meridian_core.git import Git
from meridian_core.layout import Repo
from meridian_core.snapshot import WorkingTree

from meridian.promote.config import PromotionConfig, load_config
from meridian.promote.facts import AppState, Overrides, app_states, document
from meridian.promote.freeze import ActiveWindow, active_windows
from meridian.promote.rules import POLICY_DIR, Denial, evaluate
from meridian.promote.state import Hold, Lock, read_holds, read_lock
from meridian.promote.versions import Pin


@dataclass(frozen=True)
class Candidate:
    """The version the previous environment runs, judged for a move into this one."""

    pin: Pin
    source: str
    denials: list[Denial]
    ready_at: datetime | None = None  # when the soak time of the source environment is over

    @property
    def ready(self) -> bool:
        return not self.denials


@dataclass(frozen=True)
class Cell:
    app: str
    env: str
    pin: Pin | None  # None: the environment does not run the app
    since: datetime | None
    hold: Hold | None = None
    candidate: Candidate | None = None


@dataclass(frozen=True)
class EnvironmentInfo:
    name: str
    soak: int
    require_digest: bool
    lock: Lock | None
    frozen: list[ActiveWindow]


@dataclass
class StatusReport:
    now: datetime
    head: str
    environments: list[EnvironmentInfo]
    apps: list[str]
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)

    def cell(self, app: str, env: str) -> Cell:
        return self.cells[app, env]

    @property
    def ready(self) -> list[Cell]:
        return [c for c in self.cells.values() if c.candidate is not None and c.candidate.ready]


def status(repo: Repo, now: datetime) -> StatusReport:
    git = Git(repo.root)
    git.require_repository()
    head = git.require_rev("HEAD")
    tree = WorkingTree(repo.root)
    config = load_config(tree)
    envs = [
        EnvironmentInfo(
            env,
            config.rules(env).soak,
            config.rules(env).require_digest,
            read_lock(tree, env),
            active_windows(config.rules(env).freeze, now),
        )
        for env in config.order
    ]
    apps = sorted({app for env in config.order for app in tree.apps(env)})
    report = StatusReport(now, head, envs, apps)
    pending: list[tuple[str, str, Candidate, dict[str, AppState]]] = []
    for app in apps:
        states = app_states(git, head, tree, config, app)
        for env in config.order:
            state = states.get(env)
            hold = read_holds(tree, env).get(app)
            source = config.previous(env)
            candidate = None
            if state is not None and source in states and not states[source].pin.same_build(state.pin):
                since = states[source].since
                ready_at = since + timedelta(seconds=config.rules(source).soak) if since else None
                candidate = Candidate(states[source].pin, source, [], ready_at)
                pending.append((app, env, candidate, states))
            report.cells[app, env] = Cell(
                app, env, state.pin if state else None, state.since if state else None, hold, candidate
            )
    _judge(repo, tree, config, report, pending)
    return report


def _judge(
    repo: Repo,
    tree: WorkingTree,
    config: PromotionConfig,
    report: StatusReport,
    pending: list[tuple[str, str, Candidate, dict[str, AppState]]],
) -> None:
    """Every candidate through the rules, in one conftest run."""
    if not pending:
        return
    docs = [
        document(
            config=config,
            kind="promotion",
            app=app,
            to=env,
            source=candidate.source,
            new=candidate.pin,
            states=states,
            lock=read_lock(tree, env),
            hold=read_holds(tree, env).get(app),
            overrides=Overrides(),
            now=report.now,
        )
        for app, env, candidate, states in pending
    ]
    policies = repo.root / POLICY_DIR
    if not any(policies.glob("*.rego")):
        raise InputError(f"{POLICY_DIR} holds no rules", hint="the promotion rules live in the repository")
    for (app, env, candidate, _), denials in zip(pending, evaluate(repo, policies, docs), strict=True):
        old = report.cells[app, env]
        report.cells[app, env] = Cell(
            app, env, old.pin, old.since, old.hold, replace(candidate, denials=denials)
        )
