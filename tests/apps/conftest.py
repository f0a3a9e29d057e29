"""Fixtures for the inventory suite: a real PostgreSQL, and the real server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from meridian_inventory import config as inventory_config
from meridian_inventory.server import InventoryServer
from support import postgres
from support.fixtures import pg_server
from support.inventory_harness import LoopThread, RunningInventory, service_env

__all__ = ["pg_server"]  # re-exported: pytest finds fixtures by name in conftest


@pytest.fixture
def database(pg_server: postgres.PostgresServer, tmp_path: Path) -> postgres.Database:
    return pg_server.create_database("inventory", tmp_path / "secrets")


@pytest.fixture
def start_inventory(database: postgres.Database) -> Iterator[Any]:
    """Start the real server (in this process) with the given environment overrides."""
    loop = LoopThread()
    started: list[RunningInventory] = []

    def start(**overrides: str) -> RunningInventory:
        config = inventory_config.load(service_env(database, **overrides))
        server = InventoryServer(config)
        loop.run(server.start())
        running = RunningInventory(server, loop)
        started.append(running)
        return running

    yield start
    for running in started:
        running.channel.close()
        running.stop()
    loop.close()


@pytest.fixture
def inventory(start_inventory: Any) -> RunningInventory:
    running: RunningInventory = start_inventory()
    return running
