"""Fixtures shared by every suite: the checkout under test and a way to run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

RunMeridian = Callable[..., subprocess.CompletedProcess[str]]


def pytest_configure(config: pytest.Config) -> None:
    # A relative chart mirror (CI names ../shared/charts-mirror) means the same folder in every
    # process the tests start, whatever their working directory.
    mirror = os.environ.get("MERIDIAN_CHART_MIRROR", "").strip()
    if mirror and "://" not in mirror and not Path(mirror).is_absolute():
        os.environ["MERIDIAN_CHART_MIRROR"] = str((REPO_ROOT / mirror).resolve())


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def run_meridian() -> RunMeridian:
    """Run `meridian` as a user would: a separate process, its exit code and both streams."""

    def run(
        *args: str, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "meridian.cli", *args],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
