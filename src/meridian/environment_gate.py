"""Render environments, then gate what was rendered: `meridian policy check --env/--all` and every
promotion judge an environment this way.

The gate itself (meridian.policy.gate) takes rendered folders and knows nothing of rendering; this
module is where the two meet, so the gate's callers need not compose them themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from meridian_core.layout import Repo

from meridian.environments import require_environment
from meridian.policy.gate import CHECKERS, Progress, check_builds, step_name
from meridian.policy.model import GateReport

Renderer = Callable[[Repo, str], Path]


def render(repo: Repo, env: str) -> Path:
    """build/ENV, as `meridian render ENV` writes it."""
    # Imported here: rendering loads the Pulumi program, which a caller with a renderer never needs.
    from meridian.render import render_environment  # noqa: PLC0415

    require_environment(repo, env)
    return render_environment(repo, env)


def check_environment(
    repo: Repo,
    env: str,
    *,
    renderer: Renderer = render,
    checkers: Iterable[str] = CHECKERS,
    progress: Progress | None = None,
) -> GateReport:
    return check_environments(repo, [env], renderer=renderer, checkers=checkers, progress=progress)


def check_environments(
    repo: Repo,
    envs: Sequence[str],
    *,
    renderer: Renderer = render,
    checkers: Iterable[str] = CHECKERS,
    progress: Progress | None = None,
) -> GateReport:
    started = time.perf_counter()
    builds: dict[str, Path] = {}
    for env in envs:
        if progress:
            progress(step_name("render", env, len(envs)), "start")
        builds[env] = renderer(repo, env)
        if progress:
            progress(step_name("render", env, len(envs)), "done")
    rendered = time.perf_counter() - started
    report = check_builds(repo, builds, checkers=checkers, progress=progress)
    report.seconds = {"render": rendered, **report.seconds, "total": report.seconds["total"] + rendered}
    return report
