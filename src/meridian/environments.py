"""The environments of this checkout and their typed specs, with spec errors turned into CLI input errors."""

from __future__ import annotations

from meridian_core.errors import InputError
from meridian_core.layout import Repo
from meridian_infra.spec import SPEC_FILE, EnvironmentSpec, SpecError, load_environment


def known_environments(repo: Repo) -> list[str]:
    return sorted(p.parent.name for p in repo.environments_dir.glob(f"*/{SPEC_FILE}"))


def require_environment(repo: Repo, env: str) -> str:
    known = known_environments(repo)
    if env not in known:
        raise InputError(f"unknown environment {env!r}", hint=f"environments are: {', '.join(known)}")
    return env


def load_spec(repo: Repo, env: str) -> EnvironmentSpec:
    require_environment(repo, env)
    try:
        return load_environment(repo.environments_dir, env)
    except SpecError as exc:
        raise InputError(
            str(exc),
            hint="fix the file named above; editors validate platform.yaml with "
            "environments/platform.schema.json and app.yaml with apps/app.schema.json",
        ) from None
