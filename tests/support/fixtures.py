"""pytest fixtures shared by suites; each suite's conftest imports the ones it uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import postgres


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer]:
    """A real PostgreSQL for the whole session; skips when the server binaries are not installed."""
    bin_dir = postgres.find_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    with postgres.running(bin_dir) as server:
        yield server
