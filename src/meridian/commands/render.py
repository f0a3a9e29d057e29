"""`meridian render ENV`: write an environment's manifests (apps and platform) under build/ENV/."""

from __future__ import annotations

from typing import Annotated

import typer
from meridian_core.errors import InputError
from meridian_core.layout import find_repo

from meridian.console import out
from meridian.environments import known_environments
from meridian.render import render_environment


def render(
    env: Annotated[str | None, typer.Argument(help="Environment to render (dev, staging, prod).")] = None,
    platform: Annotated[bool, typer.Option("--platform", help="Only the Pulumi program's objects.")] = False,
    apps: Annotated[bool, typer.Option("--apps", help="Only the apps' Kustomize output.")] = False,
    all_envs: Annotated[bool, typer.Option("--all", help="Every environment.")] = False,
) -> None:
    """Render manifests offline: the platform through Pulumi's mocks, the apps through kustomize."""
    repo = find_repo()
    if all_envs == (env is not None):
        raise InputError("name one environment or pass --all")
    both = not platform and not apps
    for name in known_environments(repo) if all_envs else [env or ""]:
        path = render_environment(repo, name, apps=both or apps, platform=both or platform)
        files = sorted(p.relative_to(repo.root) for p in path.rglob("*.yaml"))
        out.print(f"[bold]{name}[/]: {len(files)} file(s) under {path.relative_to(repo.root)}/")
