"""The environment spec: typed models and the loader that turns YAML errors into pointed messages."""

from meridian_infra.spec.loader import SPEC_FILE, SpecError, SpecProblem, load_environment, load_spec_file
from meridian_infra.spec.models import EnvironmentSpec

__all__ = ["SPEC_FILE", "EnvironmentSpec", "SpecError", "SpecProblem", "load_environment", "load_spec_file"]
