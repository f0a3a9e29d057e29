"""The rendered-manifest diff of a promotion: `kustomize build` of the app before and after.

Only build/ENV/apps/APP.yaml of the apps that move: a promotion changes nothing else, and
rendering one overlay takes a fraction of a second.
"""

from __future__ import annotations

import difflib

from meridian_core.errors import InputError
from meridian_core.layout import Repo, overlay_path

from meridian.toolchain import require_tool, run, tool_env


def build_overlay(repo: Repo, env: str, app: str) -> str:
    """kustomize output of environments/ENV/apps/APP, as `meridian render` writes it."""
    kustomize = require_tool(repo, "kustomize")
    overlay = repo.overlay_dir(env, app)
    proc = run([kustomize, "build", str(overlay)], env=tool_env(repo))
    if proc.returncode != 0:
        raise InputError(f"kustomize build {overlay_path(env, app)} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def rendered_diff(env: str, app: str, before: str, after: str) -> str:
    name = f"build/{env}/apps/{app}.yaml"
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        )
    )
