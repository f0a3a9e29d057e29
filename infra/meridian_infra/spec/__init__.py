"""The environment spec: typed models and the loader that turns YAML errors into pointed messages."""

from meridian_infra.spec.loader import (
    SPEC_FILE,
    SpecError,
    SpecProblem,
    environment_files,
    load_contract_file,
    load_environment,
    load_settings_file,
    load_spec_file,
)
from meridian_infra.spec.models import AppContract, EnvironmentSpec, PlatformSpec

__all__ = [
    "SPEC_FILE",
    "AppContract",
    "EnvironmentSpec",
    "PlatformSpec",
    "SpecError",
    "SpecProblem",
    "environment_files",
    "load_contract_file",
    "load_environment",
    "load_settings_file",
    "load_spec_file",
]
