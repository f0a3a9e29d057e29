"""The apps half of a render: `kustomize build` of each app overlay of the environment."""

from __future__ import annotations

from pathlib import Path

from meridian_core import layout
from meridian_core.errors import InputError
from meridian_core.layout import Repo
from meridian_core.yamlio import load_all
from meridian_infra.argocd import KUSTOMIZE_BUILD_OPTIONS
from meridian_infra.spec import EnvironmentSpec
from meridian_infra.spec.conformance import rendered_app_problems

from meridian.toolchain import require_tool, run, tool_env


def render_apps(repo: Repo, env: str, out: Path, spec: EnvironmentSpec | None = None) -> list[Path]:
    """Write each overlay's kustomize output to out/APP.yaml; with the environment's `spec`, first
    check that each render says what the platform read of the app (spec.conformance)."""
    kustomize = require_tool(repo, "kustomize")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for overlay in repo.app_overlays(env):
        proc = run([kustomize, "build", str(overlay), *KUSTOMIZE_BUILD_OPTIONS], env=tool_env(repo))
        if proc.returncode != 0:
            raise InputError(
                f"kustomize build {overlay.relative_to(repo.root)} failed:\n{proc.stderr.strip()}"
            )
        if spec is not None:
            problems = rendered_app_problems(
                env, overlay.name, spec.apps[overlay.name], load_all(proc.stdout)
            )
            if problems:
                raise InputError(
                    f"{layout.overlay_path(env, overlay.name)} does not render what the platform read of "
                    f"{overlay.name}:\n" + "\n".join(f"  {p}" for p in problems),
                    hint=f"{layout.settings_path(env, overlay.name)} alone sizes the app, and "
                    f"{layout.app_path(overlay.name, layout.CONTRACT_FILE)} is its contract with the "
                    "platform",
                )
        path = out / f"{overlay.name}.yaml"
        path.write_text(proc.stdout)
        written.append(path)
    return written
