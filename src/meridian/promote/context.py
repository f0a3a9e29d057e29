"""What a promotion, rollback or lock change runs with: the caller's options and the facts read
at HEAD (its configuration, who commits, where a pull request goes).

Promotions judge committed state: uncommitted changes to what a promotion reads stop it here,
before anything else happens (a plan only warns, as it changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from meridian_core.errors import ConflictError, InputError, MeridianError
from meridian_core.git import Git
from meridian_core.layout import BASE_DIR, CONTRACT_FILE, ENVIRONMENTS_DIR, POLICIES_DIR, Repo, app_path
from meridian_core.snapshot import Revision

from meridian.policy import gate
from meridian.promote import github
from meridian.promote.config import PromotionConfig, load_config
from meridian.promote.facts import AppState, Overrides, app_states

Say = Callable[[str], None]

# The inputs of a promotion (environments, rules, the apps' Kustomize bases): a change there that is
# not committed would not be what gets judged. Elsewhere (an app's build output, notes) it may stay.
RELEVANT_PATHS = (
    ENVIRONMENTS_DIR,
    POLICIES_DIR,
    f":(glob){app_path('*', BASE_DIR)}/**",
    f":(glob){app_path('*', CONTRACT_FILE)}",
)


def _quiet(_: str) -> None:
    """No progress messages."""


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
