"""Promotion branches: their names, and which of them are still pending (not merged yet).

    promote/<app or bundle>/<env>/<version>     a promotion
    rollback/<app>/<env>/<version>              a rollback
    lock/<env>, unlock/<env>                    an environment lock change

A branch is pending while its tip is not part of HEAD. Local branches and the remote-tracking
ones both count, so two people (or a person and the CI workflow) do not race each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from meridian_core.git import Git

KINDS = ("promote", "rollback")


@dataclass(frozen=True)
class Pending:
    ref: str  # refs/heads/… or refs/remotes/<remote>/…
    branch: str  # the branch name without the ref prefix
    sha: str
    remote: bool


def promotion_branch(kind: str, name: str, env: str, label: str) -> str:
    prefix = "rollback" if kind == "rollback" else "promote"
    return f"{prefix}/{name}/{env}/{label}"


def pending(git: Git, names: list[str], env: str, head: str, remote: str) -> list[Pending]:
    """Unmerged promotion or rollback branches of any of `names` (apps, bundle) into `env`."""
    found: dict[str, Pending] = {}
    for kind in KINDS:
        for name in names:
            prefix = f"{kind}/{name}/{env}/"
            for ref, sha in git.refs(f"refs/heads/{prefix}").items():
                branch = ref.removeprefix("refs/heads/")
                found.setdefault(ref, Pending(ref, branch, sha, remote=False))
            for ref, sha in git.refs(f"refs/remotes/{remote}/{prefix}").items():
                branch = ref.removeprefix(f"refs/remotes/{remote}/")
                found.setdefault(ref, Pending(ref, branch, sha, remote=True))
    return [p for p in found.values() if not git.is_ancestor(p.sha, head)]


def lock_branch(action: str, env: str) -> str:
    return f"{action}/{env}"
