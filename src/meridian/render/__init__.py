"""`meridian render`: an environment's full set of manifests under build/ENV/, the input of the policy gate.

build/ENV/apps/APP.yaml       what Argo CD will sync for each app (Kustomize output)
build/ENV/platform/*.yaml     what the Pulumi program declares, one file per component
build/ENV/platform/charts/    what each of its Helm releases installs (the pinned chart, rendered)
build/crds/ENV/               the CRDs those charts install, apart from what the gate checks
"""

from __future__ import annotations

import shutil
from pathlib import Path

from meridian_core.layout import Repo

from meridian.environments import load_spec
from meridian.render.apps import render_apps


def render_environment(repo: Repo, env: str, *, apps: bool = True, platform: bool = True) -> Path:
    spec = load_spec(repo, env)
    out = repo.rendered(env)
    if apps:
        shutil.rmtree(out.apps, ignore_errors=True)
        render_apps(repo, env, out.apps, spec)
    if platform:
        # Imported here: loading the Pulumi SDKs takes seconds that commands not rendering
        # the platform should not pay.
        from meridian.render.platform import render_platform  # noqa: PLC0415

        crds = repo.rendered_crds(env)
        shutil.rmtree(out.platform, ignore_errors=True)
        shutil.rmtree(crds, ignore_errors=True)
        render_platform(spec, out.platform, charts_from=repo, crd_out=crds)
    return out.folder


__all__ = ["render_environment"]
