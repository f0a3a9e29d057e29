"""Fixtures of the policy gate suites."""

from __future__ import annotations

from pathlib import Path

import pytest
from meridian_core.layout import Repo


@pytest.fixture(scope="session")
def repo(repo_root: Path) -> Repo:
    return Repo(repo_root)
