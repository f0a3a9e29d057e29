"""`meridian render`: an environment's full set of manifests under build/ENV/, the input of the policy gate.

build/ENV/apps/APP.yaml       what Argo CD will sync for each app (Kustomize output)
build/ENV/platform/*.yaml     what the Pulumi program declares, one file per component
"""

from __future__ import annotations

import shutil
from pathlib import Path

from meridian.environments import load_spec
from meridian.paths import Repo
from meridian.render.apps import render_apps


def render_environment(repo: Repo, env: str, *, apps: bool = True, platform: bool = True) -> Path:
    spec = load_spec(repo, env)
    out = repo.build_dir / env
    if apps:
        shutil.rmtree(out / "apps", ignore_errors=True)
        render_apps(repo, env, out / "apps")
    if platform:
        # Imported here: loading the Pulumi SDKs takes seconds that commands not rendering
        # the platform should not pay.
        from meridian.render.platform import render_platform  # noqa: PLC0415

        shutil.rmtree(out / "platform", ignore_errors=True)
        render_platform(spec, out / "platform")
    return out


__all__ = ["render_environment"]
