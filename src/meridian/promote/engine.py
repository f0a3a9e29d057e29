"""Promotions and rollbacks, from request to branch (and pull request).

    facts (git, promotion.yaml, locks, holds, clock) → rules (Rego) → worktree: write, render,
    policy gate → rules again with the gate's verdict → commit → branch → push → pull request

Nothing touches the user's checkout: the change is written and committed in a temporary
worktree, and only a new branch appears (or, for a plan, nothing at all). Every refusal happens
before the branch is created, so it leaves HEAD, branches, index and working tree as they were.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from meridian_core.errors import ConflictError, InputError, MeridianError
from meridian_core.git import Git
from meridian_core.layout import ENVIRONMENTS_DIR, POLICIES_DIR, Repo, base_path, contract_path
from meridian_core.snapshot import Revision, version_path

from meridian import environment_gate
from meridian.policy import gate
from meridian.promote import branches, claims, github, supply_chain, texts
from meridian.promote.clock import iso
from meridian.promote.config import PromotionConfig, load_config
from meridian.promote.diff import build_overlay, rendered_diff
from meridian.promote.facts import AppState, GateVerdict, Overrides, app_states, document
from meridian.promote.rules import POLICY_DIR, Denial, evaluate
from meridian.promote.state import Hold, holds_path, holds_text, read_holds, read_lock
from meridian.promote.units import Move, Outcome, Status, Unit
from meridian.promote.versions import Pin, valid_digest, valid_tag, write_pin
from meridian.promote.workspace import worktree

Say = Callable[[str], None]

# The inputs of a promotion (environments, rules, the apps' Kustomize bases): a change there that is
# not committed would not be what gets judged. Elsewhere (an app's build output, notes) it may stay.
RELEVANT_PATHS = (
    ENVIRONMENTS_DIR,
    POLICIES_DIR,
    f":(glob){base_path('*')}/**",
    f":(glob){contract_path('*')}",
)


def _quiet(_: str) -> None:
    """No progress messages."""


@dataclass(frozen=True)
class Request:
    to: str
    targets: tuple[str, ...] = ()  # apps or bundles
    all_changed: bool = False
    version: str | None = None
    digest: str | None = None
    source: str | None = None  # --from: only ever the previous environment, or the rules refuse
    overrides: Overrides = field(default_factory=Overrides)


@dataclass(frozen=True)
class RollbackRequest:
    app: str
    env: str
    version: str | None = None  # default: what ran before the current version
    reason: str = ""
    overrides: Overrides = field(default_factory=Overrides)


@dataclass(frozen=True)
class Options:
    now: datetime
    plan: bool = False
    push: bool = False
    supersede: bool = False
    checkers: tuple[str, ...] = gate.CHECKERS
    remote: str = "origin"
    base: str | None = None  # the pull request's base branch; default: the current branch
    say: Say = _quiet
    warn: Say = _quiet  # what people must not miss (a plan that ignores uncommitted files)


@dataclass
class Context:
    repo: Repo
    git: Git
    head: str
    snapshot: Revision
    config: PromotionConfig
    options: Options
    overrides: Overrides
    identity: str = ""
    pr_base: str = ""
    github: github.Settings | None = None
    states: dict[str, dict[str, AppState]] = field(default_factory=dict)

    def app_states(self, app: str) -> dict[str, AppState]:
        if app not in self.states:
            self.states[app] = app_states(self.git, self.head, self.snapshot, self.config, app)
        return self.states[app]


# --- entry points ------------------------------------------------------------------------------------


def promote(repo: Repo, request: Request, options: Options) -> list[Outcome]:
    ctx = open_context(repo, options, request.overrides)
    to = ctx.config.require_environment(request.to)
    if request.source is not None:
        ctx.config.require_environment(request.source)
    for flag, value, check in (
        ("--version", request.version, valid_tag),
        ("--digest", request.digest, valid_digest),
    ):
        if value is not None and not check(value):
            raise InputError(
                f"{flag} {value!r} is not valid", hint="a tag like 1.2.3; a digest like sha256:<64 hex>"
            )
    return _carry_out_all(ctx, _promotion_units(ctx, request, to))


def rollback(repo: Repo, request: RollbackRequest, options: Options) -> Outcome:
    ctx = open_context(repo, options, request.overrides)
    app, env = request.app, ctx.config.require_environment(request.env)
    states = ctx.app_states(app)
    if env not in states:
        raise InputError(
            f"{app} has no version in {env}", hint=f"apps in {env}: {', '.join(ctx.snapshot.apps(env))}"
        )
    current = states[env].pin
    if request.version == current.tag:
        return Outcome(app, env, Status.NOTHING, f"{env} already runs {app} {current.tag}")
    # The entries of the current run come first; what follows them is what ran before.
    history = states[env].history
    run = next((i for i, e in enumerate(history) if not current.same_build(e.pin)), len(history))
    earlier = [e for e in history[run:] if e.pin is not None and e.raw is not None]
    target = next((e for e in earlier if request.version in (None, e.pin.tag if e.pin else None)), None)
    reason = request.reason or f"rolled back from {current.tag}"
    if target is None and request.version is None:
        raise InputError(
            f"git history holds no earlier version of {app} in {env} than {current.tag}",
            hint="name one with --to VERSION, or promote a fix forward",
        )
    if target is None or target.pin is None or target.raw is None:
        # No bytes to restore: the rules say why (MER-PROMO-009), as for any other refusal.
        new = Pin(current.repository, request.version or "", None, request.version)
        unit = Unit(app, env, "rollback", "", [Move(app, env, current, new, b"", states)], reason=reason)
        denials = _evaluate(ctx, [unit])[0]
        return Outcome(app, env, Status.REFUSED, _refusal(unit, denials), unit=unit, denials=denials)
    holds = read_holds(ctx.snapshot, env)
    hold = Hold(version=target.pin.tag, reason=reason, by=ctx.identity, since=iso(options.now))
    move = Move(app, env, current, target.pin, target.raw, states, hold=holds.get(app))
    unit = Unit(app, env, "rollback", "", [move], reason=reason)
    unit.files = {move.path: target.raw, holds_path(env): _encode(holds_text(env, {**holds, app: hold}))}
    return _carry_out_all(ctx, [unit])[0]


# --- facts and plans -------------------------------------------------------------------------------------


def open_context(repo: Repo, options: Options, overrides: Overrides) -> Context:
    git = Git(repo.root)
    git.require_repository()
    dirty = git.dirty_paths(RELEVANT_PATHS)
    shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
    if dirty and options.plan:
        # A plan answers "what would `promote` do now", and promote judges HEAD: so does the plan.
        for line in _ignored_by_plan(dirty, shown):
            options.warn(line)
    elif dirty:
        raise ConflictError(
            f"the working tree has changes a promotion would not see: {shown}",
            hint="commit or stash them (git stash -u) first; promotions judge committed state",
        )
    head = git.require_rev("HEAD")
    snapshot = Revision(git, "HEAD")
    ctx = Context(repo, git, head, snapshot, load_config(snapshot), options, overrides)
    if not options.plan:
        try:
            ctx.identity = git.identity()
        except MeridianError:
            raise InputError(
                "git does not know who commits here",
                hint='git config user.name "Your Name" && git config user.email you@example.com',
            ) from None
    if options.push:
        ctx.github = github.settings(git.remote_url(options.remote))
        base = options.base or git.current_branch()
        if not base:
            raise InputError(
                "HEAD is detached: which branch should the pull request target?", hint="give --base"
            )
        ctx.pr_base = base
    return ctx


def _ignored_by_plan(dirty: list[str], shown: str) -> list[str]:
    count = len(dirty)
    lines = [f"this plan judges HEAD, as `promote` would; it ignores {count} uncommitted change(s): {shown}"]
    for path in dirty:
        name = Path(path).name
        if name in ("lock.yaml", "holds.yaml") and path.startswith(f"{ENVIRONMENTS_DIR}/"):
            kind = "lock" if name == "lock.yaml" else "holds"
            lines.append(f"{path} is not committed: the plan does not see this {kind}; commit it to count")
    return lines


@dataclass(frozen=True)
class _Group:
    name: str  # the app, or its bundle
    bundle: str | None
    apps: tuple[str, ...]


def _promotion_units(ctx: Context, request: Request, to: str) -> list[Unit | Outcome]:
    source = request.source or ctx.config.previous(to) or ""
    holds = read_holds(ctx.snapshot, to)
    planned: list[Unit | Outcome] = []
    for group in _groups(ctx, request, to, source):
        apps = group.apps
        if request.all_changed:
            # An automatic promotion leaves a held app alone; a bundle with one moves not at all.
            held = [app for app in apps if app in holds]
            planned += [
                Outcome(
                    app,
                    to,
                    Status.SKIPPED,
                    f"{app} is held at {holds[app].version} in {to}: {holds[app].reason}",
                )
                for app in held
            ]
            if held and group.bundle:
                continue
            apps = tuple(app for app in apps if app not in held)
        moves = [m for app in apps if (m := _move(ctx, request, app, source, holds.get(app))) is not None]
        if not moves and apps:
            runs = ", ".join(f"{app} {ctx.app_states(app)[to].pin.tag}" for app in apps)
            planned.append(Outcome(group.name, to, Status.NOTHING, f"{to} already runs {runs}"))
        if moves:
            planned.append(_unit(group, to, source, moves, holds))
    return planned


def _groups(ctx: Context, request: Request, to: str, source: str) -> list[_Group]:
    if not request.all_changed:
        if not request.targets:
            raise InputError("name the app (or bundle) to promote, or pass --all-changed")
        groups = [_group(ctx, name, to) for name in request.targets]
        if request.version is not None and any(g.bundle for g in groups):
            raise InputError(
                "a bundle moves what the previous environment runs of each app; --version would be ambiguous"
            )
        return list({g.name: g for g in groups}.values())
    if request.targets or request.version or request.digest:
        raise InputError("--all-changed promotes what the previous environment runs; name no app or version")
    if not source:
        raise InputError(f"{to} is the first environment; --all-changed has nothing to compare it with")
    if request.overrides.release_hold:
        raise InputError("--release-hold releases one app's hold; name the app instead of --all-changed")
    changed: dict[str, _Group] = {}
    for app in ctx.snapshot.apps(to):
        states = ctx.app_states(app)
        if source in states and not states[source].pin.same_build(states[to].pin):
            group = _group(ctx, app, to)
            changed.setdefault(group.name, group)
    return list(changed.values())


def _group(ctx: Context, name: str, to: str) -> _Group:
    """An app alone, or the bundle it belongs to: a bundle's apps move together."""
    config, apps_here = ctx.config, ctx.snapshot.apps(to)
    bundle = name if name in config.bundles else config.bundle_of(name)
    if bundle is None and name not in apps_here:
        known = ", ".join(apps_here + sorted(config.bundles))
        raise InputError(f"{name} is neither an app nor a bundle of {to}", hint=f"known: {known}")
    if bundle is None:
        return _Group(name, None, (name,))
    if bundle != name:
        ctx.options.say(f"{name} belongs to bundle {bundle}: the whole bundle moves together")
    return _Group(bundle, bundle, tuple(app for app in config.bundles[bundle] if app in apps_here))


def _move(ctx: Context, request: Request, app: str, source: str, hold: Hold | None) -> Move | None:
    """The app's move into `request.to`, or None when it already runs that build."""
    states = ctx.app_states(app)
    to = request.to
    here = states[to].pin
    up = states[source].pin if source in states else None
    if source and up is None and request.version is None:
        raise InputError(f"{app} has no version in {source}, so nothing of it moves to {to}")
    if not source and request.version is None:
        raise InputError(
            f"{to} is the first environment: say which build goes in",
            hint=f"meridian promote {app} --to {to} --version TAG --digest sha256:…",
        )
    if up is not None and request.version in (None, up.tag):
        new = Pin(up.repository, up.tag, request.digest or up.digest, up.tag)
    else:  # the first environment, or a version upstream does not run (which the rules refuse)
        version = request.version or ""
        new = Pin(here.repository, version, request.digest, version)
    if new.same_build(here) and here.label == new.tag:
        return None
    data = write_pin(states[to].text, app, new, ctx.snapshot.describe(version_path(to, app))).encode()
    released = hold is not None and request.overrides.release_hold
    return Move(app, to, here, new, data, states, hold=hold, released_hold=released)


def _unit(group: _Group, to: str, source: str, moves: list[Move], holds: dict[str, Hold]) -> Unit:
    unit = Unit(group.name, to, "promotion", source, moves, bundle=group.bundle)
    unit.files = {m.path: m.data for m in moves}
    released = {m.app for m in moves if m.released_hold}
    if released:
        remaining = {app: hold for app, hold in holds.items() if app not in released}
        unit.files[holds_path(to)] = _encode(holds_text(to, remaining))
    return unit


# --- rules -------------------------------------------------------------------------------------------------


def _documents(ctx: Context, unit: Unit, verdict: GateVerdict | None) -> list[dict[str, Any]]:
    lock = read_lock(ctx.snapshot, unit.env)
    return [
        document(
            config=ctx.config,
            kind=unit.kind,
            app=move.app,
            to=unit.env,
            source=unit.source,
            new=move.new,
            states=move.states,
            lock=lock,
            hold=move.hold,
            overrides=replace(ctx.overrides, release_hold=move.released_hold or ctx.overrides.release_hold),
            now=ctx.options.now,
            gate=verdict,
        )
        for move in unit.moves
    ]


def _evaluate(ctx: Context, units: Sequence[Unit], verdict: GateVerdict | None = None) -> list[list[Denial]]:
    """The denials of each unit (all its apps together), by the rules committed at HEAD."""
    docs = [_documents(ctx, unit, verdict) for unit in units]
    with tempfile.TemporaryDirectory(prefix="meridian-rules-") as tmp:
        policies = ctx.snapshot.export(POLICY_DIR, Path(tmp) / "policies")
        if not any(policies.rglob("*.rego")):
            raise InputError(
                f"{POLICY_DIR} holds no rules at {ctx.snapshot.label}",
                hint="the promotion rules must be committed with the repository",
            )
        results = iter(evaluate(ctx.repo, policies, [d for unit_docs in docs for d in unit_docs]))
    out = []
    for unit, unit_docs in zip(units, docs, strict=True):
        merged: dict[tuple[str, str], Denial] = {}
        for _ in unit_docs:  # one result per app of the unit; the same denial counts once
            merged.update({(d.rule, d.message): d for d in next(results)})
        # The supply-chain rules ask the registry, not git (docs/images.md).
        for move in unit.moves:
            found = supply_chain.denials(ctx.repo, ctx.snapshot, unit.env, move.new)
            merged.update({(d.rule, d.message): d for d in found})
        out.append(sorted(merged.values(), key=lambda d: (d.rule, d.message)))
    return out


def _refusal(unit: Unit, denials: list[Denial], violations: Sequence[str] = ()) -> str:
    return f"{unit.describe()} refused:\n" + "\n".join(texts.refusal_lines(denials, violations))


# --- carrying out ------------------------------------------------------------------------------------------


def _carry_out_all(ctx: Context, planned: Sequence[Unit | Outcome]) -> list[Outcome]:
    units = [p for p in planned if isinstance(p, Unit)]
    before_gate = dict(zip(map(id, units), _evaluate(ctx, units), strict=True))
    return [p if isinstance(p, Outcome) else _carry_out(ctx, p, before_gate[id(p)]) for p in planned]


@dataclass
class _Built:
    commit: str | None  # None for a plan
    denials: list[Denial]
    diff: str
    gate_summary: str
    violations: tuple[str, ...] = ()  # the gate's denied findings, one line each


def _carry_out(ctx: Context, unit: Unit, denials: list[Denial]) -> Outcome:
    if ctx.options.plan:
        return _carry_out_claimed(ctx, unit, denials)
    # Looking for pending branches and making the new one happen under one claim, so that two
    # promotions of the same app and environment started together cannot both find none.
    try:
        with claims.claim(ctx.git, [unit.name, *unit.apps], unit.env, unit.describe()):
            return _carry_out_claimed(ctx, unit, denials)
    except claims.Claimed as busy:
        return _outcome(
            unit,
            Status.CONFLICT,
            f"{unit.describe()} conflicts with {busy.holder}, which is running now",
            notes=["wait for it to finish; its branch is then pending, and this run would conflict with it"],
        )


def _carry_out_claimed(ctx: Context, unit: Unit, denials: list[Denial]) -> Outcome:
    options, git = ctx.options, ctx.git
    pending = branches.pending(git, [unit.name, *unit.apps], unit.env, ctx.head, options.remote)
    # The same promotion made before (a re-run): its branch already holds exactly these versions.
    versions = {move.path: move.data for move in unit.moves}
    # --supersede remakes it anyway: e.g. to record an --emergency reason the first run lacked.
    same = next((p for p in pending if p.branch == unit.branch and _has_files(git, p.sha, versions)), None)
    same = None if options.supersede else same
    others = [p for p in pending if same is None or p.sha != same.sha]
    early = None if options.plan else _before_build(ctx, unit, denials, same, others)
    if early is not None:
        return early
    built = _build(ctx, unit, commit=not options.plan and same is None)
    found: dict[str, Any] = {"denials": built.denials, "diff": built.diff, "gate_summary": built.gate_summary}
    if options.plan:
        message = (
            _refusal(unit, built.denials, built.violations)
            if built.denials
            else f"{unit.describe()}: every rule holds"
        )
        return _outcome(
            unit, Status.PLANNED, message, notes=[f"pending: {p.branch}" for p in pending], **found
        )
    if built.denials:
        return _outcome(unit, Status.REFUSED, _refusal(unit, built.denials, built.violations), **found)
    body = texts.pull_request_body(unit, ctx.overrides, built.gate_summary, options.checkers, built.diff)
    if same is not None:  # a re-run with --push: the branch is pushed and has its pull request
        outcome = _outcome(unit, Status.PENDING, f"{unit.describe()} already waits on {unit.branch}", **found)
        _publish(ctx, unit, outcome, commit=same.sha, stale=[], body=body, rerun=True)
        return outcome
    return _land(ctx, unit, built, others, body)


def _before_build(
    ctx: Context,
    unit: Unit,
    denials: list[Denial],
    same: branches.Pending | None,
    others: list[branches.Pending],
) -> Outcome | None:
    """The answers that need no render: already pending, in conflict, or refused by the rules."""
    if same is not None and not ctx.options.push:
        return _outcome(unit, Status.PENDING, f"{unit.describe()} already waits on {unit.branch}")
    if others and not ctx.options.supersede:
        listed = ", ".join(sorted({p.branch for p in others}))
        return _outcome(
            unit,
            Status.CONFLICT,
            f"{unit.describe()} conflicts with the pending branch(es) {listed}",
            notes=["merge or delete them, or pass --supersede to replace them"],
        )
    if denials:
        return _outcome(unit, Status.REFUSED, _refusal(unit, denials), denials=denials)
    return None


def _build(ctx: Context, unit: Unit, *, commit: bool) -> _Built:
    """Write, render and gate the unit in a worktree of HEAD; commit it there if asked and allowed."""
    options = ctx.options
    with worktree(ctx.repo, ctx.git, ctx.head) as (tree, tree_git):
        before = {app: build_overlay(tree, unit.env, app) for app in unit.apps}
        for path, data in unit.files.items():
            target = tree.root / path
            if data is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(data)
        options.say(f"rendering {unit.env} and running the policy gate ({', '.join(options.checkers)})")
        report = environment_gate.check_environment(tree, unit.env, checkers=options.checkers)
        after = {app: tree.rendered(unit.env).app_file(app).read_text() for app in unit.apps}
        diff = "".join(rendered_diff(unit.env, app, before[app], after[app]) for app in unit.apps)
        verdict = GateVerdict.of(report)
        denials = _evaluate(ctx, [unit], verdict)[0]
        sha = None
        if commit and not denials:
            message = texts.commit_message(unit, ctx.overrides, verdict.summary, options.checkers)
            sha = tree_git.commit_paths(unit.files, message)
    return _Built(sha, denials, diff, verdict.summary, verdict.violations)


def _land(ctx: Context, unit: Unit, built: _Built, others: list[branches.Pending], body: str) -> Outcome:
    """Create the branch (past every check: nothing refuses from here), replace superseded ones."""
    git, options = ctx.git, ctx.options
    commit = built.commit or ""
    # A branch of this name may exist: superseded, or merged long ago (and so no longer pending).
    git.put_branch(unit.branch, commit)
    replaced = [p for p in others if not p.remote and p.branch != unit.branch]
    for p in replaced:
        git.delete_ref(p.ref, p.sha)
    outcome = _outcome(
        unit,
        Status.CREATED,
        f"{unit.describe()}: committed on {unit.branch}",
        commit=commit,
        denials=[],
        diff=built.diff,
        gate_summary=built.gate_summary,
        notes=[f"superseded {p.branch}" for p in replaced],
    )
    remote_stale = [p for p in others if p.remote]
    if options.push:
        _publish(ctx, unit, outcome, commit=commit, stale=remote_stale, body=body)
    else:
        outcome.notes += [
            f"{options.remote}/{p.branch} is still pending there; --supersede --push replaces it"
            for p in remote_stale
        ]
    return outcome


def _outcome(unit: Unit, status: Status, message: str, **fields: Any) -> Outcome:
    fields.setdefault("branch", unit.branch if status in (Status.CREATED, Status.PENDING) else None)
    return Outcome(unit.name, unit.env, status, message, unit=unit, **fields)


def _has_files(git: Git, sha: str, files: dict[str, bytes]) -> bool:
    return all(git.read(sha, path) == data for path, data in files.items())


def _publish(
    ctx: Context,
    unit: Unit,
    outcome: Outcome,
    *,
    commit: str,
    stale: list[branches.Pending],
    body: str,
    rerun: bool = False,
) -> None:
    pull_request, notes = publish(
        ctx,
        branch=unit.branch,
        title=texts.title(unit),
        commit=commit,
        stale=stale,
        body=body,
        replace_nothing=rerun,
    )
    outcome.pull_request = pull_request
    outcome.notes += notes


def publish(
    ctx: Context,
    *,
    branch: str,
    title: str,
    commit: str,
    stale: list[branches.Pending],
    body: str,
    replace_nothing: bool = False,
) -> tuple[github.PullRequest, list[str]]:
    """Push the branch (replacing stale remote ones) and open its pull request."""
    if ctx.github is None:
        raise InputError("--push needs the GitHub settings")  # open_context sets them for --push
    git, remote = ctx.git, ctx.options.remote
    # A new commit replaces whatever the remote branch of this name held: a superseded promotion,
    # or one merged long ago. A re-run pushes the commit the branch already has.
    force = "" if replace_nothing else "+"
    git.push(remote, f"{force}{commit}:refs/heads/{branch}")
    notes = []
    for p in stale:
        if p.branch != branch:
            # GitHub closes the pull request of a deleted branch: that is what superseding means.
            git.push(remote, f":refs/heads/{p.branch}")
            notes.append(f"superseded {remote}/{p.branch}")
    with github.GitHub(ctx.github) as client:
        pull_request = client.open_pull_request(head=branch, base=ctx.pr_base, title=title, body=body)
    return pull_request, notes


def _encode(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None
