"""Promotions and rollbacks, from request to branch (and pull request).

    plan (facts → units → rules) → here, per unit: claim → pending branches → worktree: write,
    render, policy gate → rules again with the gate's verdict → commit → branch → publish (--push)

Nothing touches the user's checkout: the change is written and committed in a temporary
worktree, and only a new branch appears (or, for a plan, nothing at all). Every refusal happens
before the branch is created, so it leaves HEAD, branches, index and working tree as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from meridian_core.git import Git
from meridian_core.layout import Repo

from meridian import environment_gate
from meridian.promote import branches, claims, plan, texts
from meridian.promote.context import Context, Options, open_context
from meridian.promote.diff import build_overlay, rendered_diff
from meridian.promote.facts import GateVerdict
from meridian.promote.publish import Proposal, publish
from meridian.promote.rules import Denial
from meridian.promote.units import Outcome, Status, Unit
from meridian.promote.workspace import worktree


def promote(repo: Repo, request: plan.Request, options: Options) -> list[Outcome]:
    ctx = open_context(repo, options, request.overrides)
    return _carry_out_all(ctx, plan.promotion(ctx, request))


def rollback(repo: Repo, request: plan.RollbackRequest, options: Options) -> Outcome:
    ctx = open_context(repo, options, request.overrides)
    planned = plan.rollback(ctx, request)
    return planned if isinstance(planned, Outcome) else _carry_out_all(ctx, [planned])[0]


def _carry_out_all(ctx: Context, planned: Sequence[Unit | Outcome]) -> list[Outcome]:
    units = [p for p in planned if isinstance(p, Unit)]
    before_gate = dict(zip(map(id, units), plan.judge(ctx, units), strict=True))
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
            plan.refusal(unit, built.denials, built.violations)
            if built.denials
            else f"{unit.describe()}: every rule holds"
        )
        return _outcome(
            unit, Status.PLANNED, message, notes=[f"pending: {p.branch}" for p in pending], **found
        )
    if built.denials:
        return _outcome(unit, Status.REFUSED, plan.refusal(unit, built.denials, built.violations), **found)
    body = texts.pull_request_body(unit, ctx.overrides, built.gate_summary, options.checkers, built.diff)
    if same is not None:  # a re-run with --push: the branch is pushed and has its pull request
        outcome = _outcome(unit, Status.PENDING, f"{unit.describe()} already waits on {unit.branch}", **found)
        publish(ctx, outcome, Proposal(unit.branch, same.sha, texts.title(unit), body), rerun=True)
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
        return _outcome(unit, Status.REFUSED, plan.refusal(unit, denials), denials=denials)
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
        denials = plan.judge(ctx, [unit], verdict)[0]
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
        publish(ctx, outcome, Proposal(unit.branch, commit, texts.title(unit), body), stale=remote_stale)
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
