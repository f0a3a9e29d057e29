"""`promote check BASE..HEAD`: is this change (a pull request, hand-written or not) a legal promotion?

What changed is read between the merge base and HEAD; the rules, locks, holds and the versions
upstream are read at BASE, the branch the change would land on. So a pull request can neither
relax the rules it is judged by nor count on a version that left the previous environment.

A change that modifies no existing version.yaml is not a promotion, and passes (settings changes,
new apps, locks are reviewed as such). A change that does is a promotion: one environment, version
fields only (plus that environment's holds.yaml), and every MER-PROMO rule must hold. Into a
verified environment (environments/images.yaml at BASE) the supply-chain rules hold too: the new
digest is in the registry and signed by the release key as committed at BASE (MER-IMAGE).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from meridian_core.errors import InputError
from meridian_core.exitcodes import ExitCode
from meridian_core.git import Git
from meridian_core.layout import ENVIRONMENTS_DIR, Repo, version_file_of
from meridian_core.snapshot import Revision, version_path

from meridian import environment_gate
from meridian.policy import gate
from meridian.promote import supply_chain
from meridian.promote.config import PROMOTION_FILE, PromotionConfig, load_config
from meridian.promote.facts import AppState, GateVerdict, Overrides, app_states, document
from meridian.promote.message import AppRecord, records
from meridian.promote.rules import POLICY_DIR, Denial, evaluate
from meridian.promote.state import holds_path, read_holds, read_lock
from meridian.promote.versions import Pin, read_pin, without_version_fields
from meridian.promote.workspace import worktree


@dataclass
class CheckedApp:
    app: str
    env: str
    kind: str
    version: str
    previous: str
    denials: list[Denial] = field(default_factory=list)


@dataclass
class CheckReport:
    base: str
    head: str
    merge_base: str
    apps: list[CheckedApp] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gate_summary: str = ""
    gate_violations: tuple[str, ...] = ()  # the gate's denied findings, one line each

    @property
    def denials(self) -> list[Denial]:
        seen: dict[tuple[str, str], Denial] = {}
        for app in self.apps:
            seen.update({(d.rule, d.message): d for d in app.denials})
        return sorted(seen.values(), key=lambda d: (d.rule, d.message))

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REFUSED if self.denials else ExitCode.OK


@dataclass(frozen=True)
class _Change:
    env: str
    app: str


def default_base(git: Git, remote: str) -> str:
    """The remote's default branch (origin/HEAD), else <remote>/main, else main."""
    for candidate in (f"{remote}/HEAD", f"{remote}/main", "main"):
        if git.rev_parse(candidate):
            return candidate
    raise InputError("no base to compare with", hint="give the range: meridian promote check BASE..HEAD")


def parse_range(git: Git, spec: str | None, remote: str) -> tuple[str, str]:
    if spec is None:
        return default_base(git, remote), "HEAD"
    base, dots, head = spec.partition("...") if "..." in spec else spec.partition("..")
    if not dots:
        return spec, "HEAD"
    return base or "HEAD", head or "HEAD"


def check(
    repo: Repo,
    spec: str | None,
    *,
    now: datetime,
    checkers: tuple[str, ...] = gate.CHECKERS,
    remote: str = "origin",
    say: Callable[[str], None] = lambda _: None,
) -> CheckReport:
    git = Git(repo.root)
    git.require_repository()
    base_ref, head_ref = parse_range(git, spec, remote)
    base, head = git.require_rev(base_ref), git.require_rev(head_ref)
    merge_base = git.merge_base(base, head)
    report = CheckReport(base, head, merge_base)
    changed = [
        (status, path)
        for status, path in git.changed_files(merge_base, head)
        if path.startswith(f"{ENVIRONMENTS_DIR}/")
    ]
    changes = [
        _Change(*pair) for status, path in changed if status == "M" and (pair := version_file_of(path))
    ]
    if not changes:
        what = (
            f"{len(changed)} file(s) under {ENVIRONMENTS_DIR}/ change, no app's version"
            if changed
            else f"nothing under {ENVIRONMENTS_DIR}/ changes"
        )
        report.notes.append(f"not a promotion: {what}")
        return report
    base_snap, head_snap, merge_snap = Revision(git, base), Revision(git, head), Revision(git, merge_base)
    if not base_snap.exists(PROMOTION_FILE):
        report.notes.append(f"{PROMOTION_FILE} is not in BASE: promotion rules are not set up there yet")
        return report
    config = load_config(base_snap)
    envs = sorted({c.env for c in changes})
    allowed = {version_path(c.env, c.app) for c in changes} | {holds_path(env) for env in envs}
    other = sorted(path for _, path in changed if path not in allowed)
    other += [
        f"{version_path(c.env, c.app)} (fields beside the version)"
        for c in changes
        if _other_fields_changed(merge_snap, head_snap, c)
    ]
    trail = [r for commit in git.log(f"{merge_base}..{head}") for r in records(commit.trailers)]
    scene = _Scene(git, config, base_snap, head_snap, changes, trail, now)
    docs: list[dict[str, Any]] = []
    supply: list[list[Denial]] = []  # MER-IMAGE: asked of the registry once, merged after each evaluation
    for change in changes:
        checked, doc, pin = _facts(scene, change)
        doc["change"] = {"environments": envs, "other_files": other}
        doc["bundle"] = _bundle(scene, change)
        report.apps.append(checked)
        docs.append(doc)
        supply.append(supply_chain.denials(repo, base_snap, change.env, pin))
    with tempfile.TemporaryDirectory(prefix="meridian-check-") as tmp:
        policies = base_snap.export(POLICY_DIR, Path(tmp) / "policies")
        if not any(policies.rglob("*.rego")):
            raise InputError(
                f"{POLICY_DIR} holds no rules at {base_snap.label}, though {PROMOTION_FILE} is there",
                hint="commit the promotion rules with the repository",
            )
        for checked, denials, found in zip(report.apps, evaluate(repo, policies, docs), supply, strict=True):
            checked.denials = _merged(denials, found)
        if report.denials or len(envs) != 1:
            return report
        say(f"rendering {envs[0]} at {head[:10]} and running the policy gate ({', '.join(checkers)})")
        with worktree(repo, git, head) as (tree, _):
            result = environment_gate.check_environment(tree, envs[0], checkers=checkers)
        report.gate_summary = result.summary()
        report.gate_violations = GateVerdict.of(result).violations
        for doc in docs:
            doc["gate"] = {"checked": True, "passed": result.passed, "summary": report.gate_summary}
        for checked, denials, found in zip(report.apps, evaluate(repo, policies, docs), supply, strict=True):
            checked.denials = _merged(denials, found)
    return report


def _merged(*denials: list[Denial]) -> list[Denial]:
    unique = {(d.rule, d.message): d for found in denials for d in found}
    return sorted(unique.values(), key=lambda d: (d.rule, d.message))


@dataclass(frozen=True)
class _Scene:
    """What every app of the change is judged against."""

    git: Git
    config: PromotionConfig
    base: Revision
    head: Revision
    changes: list[_Change]
    trail: list[AppRecord]  # the meridian records of the change's commits
    now: datetime


def _other_fields_changed(before: Revision, after: Revision, change: _Change) -> bool:
    path = version_path(change.env, change.app)
    old, new = before.read(path), after.read(path)
    if old is None or new is None:
        return True
    try:
        before_fields = without_version_fields(old.decode(), change.app, path)
        after_fields = without_version_fields(new.decode(), change.app, path)
    except InputError:
        return True
    return bool(before_fields != after_fields)


def _facts(scene: _Scene, change: _Change) -> tuple[CheckedApp, dict[str, Any], Pin]:
    env, app = change.env, change.app
    git, config, base, head, trail, now = (
        scene.git,
        scene.config,
        scene.base,
        scene.head,
        scene.trail,
        scene.now,
    )
    path = version_path(env, app)
    states: dict[str, AppState] = app_states(git, base.sha, base, config, app)
    raw = head.read(path) or b""
    new = read_pin(raw.decode(), app, head.describe(path))
    mine = [r for r in trail if r.app == app and r.to == env]
    kind = "rollback" if any(r.kind == "rollback" for r in mine) else "promotion"
    hold = read_holds(base, env).get(app)
    released = hold is not None and app not in read_holds(head, env)
    overrides = Overrides(
        emergency=next((r.emergency for r in mine if r.emergency), ""),
        break_glass=next((r.break_glass for r in trail if r.break_glass and r.to == env), ""),
        release_hold=released,
    )
    previous = states[env].pin.tag if env in states else ""
    doc = document(
        config=config,
        kind=kind,
        app=app,
        to=env,
        source=(config.previous(env) or "") if kind == "promotion" else "",
        new=new,
        states=states,
        lock=read_lock(base, env),
        hold=hold,
        overrides=overrides,
        now=now,
    )
    return CheckedApp(app, env, kind, new.tag, previous), doc, new


def _bundle(scene: _Scene, change: _Change) -> dict[str, Any]:
    """The bundle of the app and its members that should move too but do not."""
    config = scene.config
    name = config.bundle_of(change.app)
    source = config.previous(change.env)
    if name is None or source is None:
        return {"name": name or "", "missing": []}
    moving = {c.app for c in scene.changes if c.env == change.env}
    missing = []
    for member in config.bundles[name]:
        if member in moving:
            continue
        states = app_states(scene.git, scene.base.sha, scene.base, config, member)
        if (
            source in states
            and change.env in states
            and not states[source].pin.same_build(states[change.env].pin)
        ):
            missing.append(member)
    return {"name": name, "missing": missing}
