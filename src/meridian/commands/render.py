"""`meridian render ENV`: write an environment's manifests (apps and platform) under build/ENV/."""

from __future__ import annotations

from typing import Annotated

import typer
from meridian_core.layout import find_repo

from meridian.commands.options import Environments, examples, grouped
from meridian.console import out
from meridian.render import render_environment

app = typer.Typer()


@app.command(
    "render",
    epilog=examples(
        "meridian render dev  # build/dev/apps and build/dev/platform",
        "meridian render --all --platform",
        "MERIDIAN_CHART_MIRROR=/srv/charts meridian render prod  # charts from a mirror",
    ),
)
@grouped(environments=Environments)
def render(
    environments: Environments,
    platform: Annotated[bool, typer.Option("--platform", help="Only the Pulumi program's objects.")] = False,
    apps: Annotated[bool, typer.Option("--apps", help="Only the apps' Kustomize output.")] = False,
) -> None:
    """Render manifests offline: the platform through Pulumi's mocks, the apps through kustomize."""
    repo = find_repo()
    both = not platform and not apps
    for name in environments.names(repo, "render"):
        path = render_environment(repo, name, apps=both or apps, platform=both or platform)
        files = sorted(p.relative_to(repo.root) for p in path.rglob("*.yaml"))
        out.print(f"[bold]{name}[/]: {len(files)} file(s) under {path.relative_to(repo.root)}/")
