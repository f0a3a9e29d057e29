"""Publishing a commit made on a branch: push the branch (replacing stale remote branches it
supersedes) and open its pull request. Promotions, rollbacks and lock changes publish the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from meridian_core.errors import InputError

from meridian.promote import branches, github
from meridian.promote.context import Context
from meridian.promote.units import Outcome


@dataclass(frozen=True)
class Proposal:
    """What a pull request proposes: a commit on a branch, with the request's title and body."""

    branch: str
    commit: str
    title: str
    body: str


def publish(
    ctx: Context,
    outcome: Outcome,
    proposal: Proposal,
    *,
    stale: Sequence[branches.Pending] = (),
    rerun: bool = False,
) -> None:
    """Push the branch, open its pull request, and note both on `outcome`."""
    if ctx.github is None:
        raise InputError("--push needs the GitHub settings")  # open_context sets them for --push
    git, remote, branch = ctx.git, ctx.options.remote, proposal.branch
    # A new commit replaces whatever the remote branch of this name held: a superseded promotion,
    # or one merged long ago. A re-run pushes the commit the branch already has.
    force = "" if rerun else "+"
    git.push(remote, f"{force}{proposal.commit}:refs/heads/{branch}")
    notes = []
    for p in stale:
        if p.branch != branch:
            # GitHub closes the pull request of a deleted branch: that is what superseding means.
            git.push(remote, f":refs/heads/{p.branch}")
            notes.append(f"superseded {remote}/{p.branch}")
    with github.GitHub(ctx.github) as client:
        outcome.pull_request = client.open_pull_request(
            head=branch, base=ctx.pr_base, title=proposal.title, body=proposal.body
        )
    outcome.notes += notes
