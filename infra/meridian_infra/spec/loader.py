"""Read `environments/<env>/platform.yaml` into an EnvironmentSpec, or fail with errors pointing at the YAML.

A malformed spec stops `pulumi preview` / `meridian render` before any resource is declared.
"""

from __future__ import annotations

from pathlib import Path

from meridian_core.yamlmodel import Problem, YamlModelError, load_yaml_model

from meridian_infra.spec.models import EnvironmentSpec

SPEC_FILE = "platform.yaml"

SpecProblem = Problem


class SpecError(YamlModelError):
    """A platform spec that cannot be used."""

    def __init__(self, file: Path, problems: list[Problem]) -> None:
        self.file = file
        super().__init__(str(file), problems)


def spec_path(environments_dir: Path, env: str) -> Path:
    return environments_dir / env / SPEC_FILE


def load_environment(environments_dir: Path, env: str) -> EnvironmentSpec:
    """The spec of `env`; its `name` must match the folder it lives in."""
    path = spec_path(environments_dir, env)
    if not path.is_file():
        known = sorted(p.parent.name for p in environments_dir.glob(f"*/{SPEC_FILE}"))
        raise SpecError(path, [Problem("", None, f"no such environment {env!r}; known: {', '.join(known)}")])
    spec = load_spec_file(path)
    if spec.name != env:
        raise SpecError(path, [Problem("name", None, f"is {spec.name!r} but the folder is {env!r}")])
    return spec


def load_spec_file(path: Path) -> EnvironmentSpec:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(path, [Problem("", None, f"cannot read: {exc.strerror}")]) from None
    try:
        return load_yaml_model(EnvironmentSpec, text, str(path))
    except YamlModelError as exc:
        raise SpecError(path, exc.problems) from None
