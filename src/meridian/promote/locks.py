"""`lock ENV` / `unlock ENV`: the environment lock as a commit on its own branch, like a promotion.

The lock takes effect when its branch merges: it lives in git, so it is reviewed, audited and
seen by every clone and by `promote check` in CI. A lock changes no manifest, so no render or
gate runs; the commit carries Meridian-Kind: lock|unlock and the reason.
"""

from __future__ import annotations

from meridian_core.errors import InputError
from meridian_core.layout import Repo

from meridian.promote import branches
from meridian.promote import message as m
from meridian.promote.context import Context, Options, open_context
from meridian.promote.facts import Overrides
from meridian.promote.publish import Proposal, publish
from meridian.promote.state import lock_path, lock_text, read_lock
from meridian.promote.units import Outcome, Status
from meridian.promote.workspace import worktree


def change_lock(repo: Repo, env: str, *, locked: bool, reason: str, options: Options) -> Outcome:
    if locked and not reason.strip():
        raise InputError("a lock needs a reason", hint='meridian lock prod --reason "incident 4711"')
    ctx = open_context(repo, options, Overrides())
    ctx.config.require_environment(env)
    action = "lock" if locked else "unlock"
    current = read_lock(ctx.snapshot, env)
    if locked and current is not None:
        return Outcome(
            env, env, Status.NOTHING, f"{env} is locked already, since {current.since}: {current.reason}"
        )
    if not locked and current is None:
        return Outcome(env, env, Status.NOTHING, f"{env} is not locked")
    branch = branches.lock_branch(action, env)
    data = lock_text(env, reason.strip(), ctx.identity, options.now).encode() if locked else None
    pending = _pending(ctx, env)
    same = [p for p in pending if p.branch == branch and ctx.git.read(p.sha, lock_path(env)) == data]
    if same:
        return Outcome(
            env, env, Status.PENDING, f"the {action} of {env} already waits on {branch}", branch=branch
        )
    if pending and not options.supersede:
        listed = ", ".join(p.branch for p in pending)
        return Outcome(
            env,
            env,
            Status.CONFLICT,
            f"a lock change of {env} is pending on {listed}",
            notes=["pass --supersede"],
        )
    title = f"{action} {env}" + (f": {m.one_line(reason)}" if locked else "")
    commit = _commit(repo, ctx, env, data, title=title, action=action, reason=reason)
    notes = []
    ctx.git.put_branch(branch, commit)  # it may exist: superseded, or merged before
    for p in pending:
        if p.branch != branch:
            ctx.git.delete_ref(p.ref, p.sha)
            notes.append(f"superseded {p.branch}")
    outcome = Outcome(
        env,
        env,
        Status.CREATED,
        f"{action} of {env}: committed on {branch}",
        branch=branch,
        commit=commit,
        notes=notes,
    )
    if options.push:
        body = _explanation(env, locked) + (f"\n\nReason: {m.one_line(reason)}\n" if locked else "\n")
        # A superseded branch of the same name is rewritten on the remote as well.
        stale = [branches.Pending(p.ref, p.branch, p.sha, remote=True) for p in pending if p.branch == branch]
        publish(ctx, outcome, Proposal(branch, commit, title, body), stale=stale)
    return outcome


def _pending(ctx: Context, env: str) -> list[branches.Pending]:
    found = []
    for action in ("lock", "unlock"):
        name = branches.lock_branch(action, env)
        for ref, sha in ctx.git.refs(f"refs/heads/{name}").items():
            if ref == f"refs/heads/{name}" and not ctx.git.is_ancestor(sha, ctx.head):
                found.append(branches.Pending(ref, name, sha, remote=False))
    return found


def _explanation(env: str, locked: bool) -> str:
    if locked:
        return f"Locks {env}: promotions into it are refused until it is unlocked (or given --break-glass)."
    return f"Unlocks {env}: promotions into it follow the usual rules again."


def _commit(
    repo: Repo, ctx: Context, env: str, data: bytes | None, *, title: str, action: str, reason: str
) -> str:
    trailers = m.trailer_block([(m.KIND, action), (m.TO, env), (m.REASON, reason)], [])
    message = f"{title}\n\n{_explanation(env, data is not None)}\n\n{trailers}\n"
    with worktree(repo, ctx.git, ctx.head) as (tree, tree_git):
        target = tree.root / lock_path(env)
        if data is None:
            target.unlink()
        else:
            target.write_bytes(data)
        return tree_git.commit_paths([lock_path(env)], message)
