"""Fixtures of the observability suites: the environment specs, the real promtool, and the running
services as the end-to-end suite starts them (re-exported from there: pytest finds fixtures by name
in conftest)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e.conftest import orders_binary, start_stack
from meridian_infra.spec import load_environment
from meridian_infra.spec.models import EnvironmentSpec
from rule_tests import ENVS
from support.fixtures import pg_server

__all__ = ["orders_binary", "pg_server", "start_stack"]

Promtool = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def specs(repo_root: Path) -> dict[str, EnvironmentSpec]:
    return {env: load_environment(repo_root / "environments", env) for env in ENVS}


@pytest.fixture(scope="session")
def promtool() -> Promtool:
    """Run promtool (Debian's `prometheus` package, installed by `make tools`) and return the result."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is not installed (make tools installs the Debian prometheus package)")

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False, timeout=900
        )

    return run
