"""The apps half of a render: `kustomize build` of each app overlay of the environment."""

from __future__ import annotations

from pathlib import Path

from meridian_core.errors import InputError
from meridian_core.layout import Repo
from meridian_infra.argocd import KUSTOMIZE_BUILD_OPTIONS

from meridian.toolchain import require_tool, run, tool_env


def app_overlays(repo: Repo, env: str) -> list[Path]:
    apps_dir = repo.environment_dir(env) / "apps"
    return sorted(p for p in apps_dir.glob("*") if (p / "kustomization.yaml").is_file())


def render_apps(repo: Repo, env: str, out: Path) -> list[Path]:
    kustomize = require_tool(repo, "kustomize")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for overlay in app_overlays(repo, env):
        proc = run([kustomize, "build", str(overlay), *KUSTOMIZE_BUILD_OPTIONS], env=tool_env(repo))
        if proc.returncode != 0:
            raise InputError(
                f"kustomize build {overlay.relative_to(repo.root)} failed:\n{proc.stderr.strip()}"
            )
        path = out / f"{overlay.name}.yaml"
        path.write_text(proc.stdout)
        written.append(path)
    return written
