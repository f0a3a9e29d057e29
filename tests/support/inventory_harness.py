"""The inventory server running in this process on loopback, for tests that drive it over gRPC."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

import grpc
import psycopg
from meridian_inventory.gen import inventory_pb2_grpc
from meridian_inventory.server import InventoryServer

from support import postgres


def service_env(db: postgres.Database, **overrides: str) -> dict[str, str]:
    env = {
        **db.service_env(),
        "GRPC_PORT": "0",
        "METRICS_PORT": "0",
        "SHUTDOWN_GRACE_PERIOD": "5s",
        "SHUTDOWN_DRAIN_DELAY": "0s",  # no client here balances on health: nothing to wait for
        "POD_NAME": "inventory-test-0",
        "POD_NAMESPACE": "tests",
        "APP_VERSION": "1.2.3",
    }
    env.update(overrides)
    return env


class LoopThread:
    """An asyncio loop on its own thread, so synchronous tests drive the asyncio server."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Any, timeout: float = 60) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class RunningInventory:
    def __init__(self, server: InventoryServer, loop: LoopThread) -> None:
        self.server = server
        self.loop = loop
        self.address = f"127.0.0.1:{server.grpc_port}"
        self.channel = grpc.insecure_channel(self.address)
        self.stub = inventory_pb2_grpc.InventoryServiceStub(self.channel)

    def stop(self) -> None:
        self.loop.run(self.server.stop())


def seed(db: postgres.Database, *items: tuple[str, str, int]) -> None:
    """Insert items straight into the database: the service has no write API for stock levels."""
    with psycopg.connect(db.conninfo(), autocommit=True) as conn:
        for sku, name, available in items:
            conn.execute(
                "INSERT INTO items (sku, name, available) VALUES (%s, %s, %s)", (sku, name, available)
            )
