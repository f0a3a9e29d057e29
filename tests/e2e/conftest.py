"""The whole system as processes: PostgreSQL, inventory (Python) and orders (Go, built here)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import postgres, processes
from support.fixtures import pg_server
from support.ports import free_port
from support.stack import Stack, StartStack

__all__ = ["pg_server"]  # re-exported: pytest finds fixtures by name in conftest


@pytest.fixture(scope="session")
def orders_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None:
        pytest.skip("go is not installed")
    if not processes.HEALTH_PROBE.exists():
        pytest.skip("bin/grpc-health-probe is not built")
    return processes.build_orders(tmp_path_factory.mktemp("orders-build"))


@pytest.fixture
def start_stack(
    pg_server: postgres.PostgresServer, orders_binary: Path, tmp_path: Path
) -> Iterator[StartStack]:
    """Start inventory replicas and orders replicas; keyword arguments override orders'
    environment, inventory_env inventory's."""
    stacks: list[Stack] = []

    def start(
        replicas: int = 1,
        orders_replicas: int = 1,
        inventory_env: dict[str, str] | None = None,
        **orders_env: str,
    ) -> Stack:
        inventory_db = pg_server.create_database("inventory", tmp_path / "secrets")
        orders_db = pg_server.create_database("orders", tmp_path / "secrets")
        inventories = []
        inventory_metrics = []
        for n in range(replicas):
            metrics_port = free_port()
            env = {
                **inventory_db.service_env(),
                "METRICS_PORT": str(metrics_port),
                "SHUTDOWN_GRACE_PERIOD": "20s",
                "POD_NAME": f"inventory-{n}",
                "POD_NAMESPACE": "e2e",
                **(inventory_env or {}),
            }
            process = processes.start_inventory(env, tmp_path / "logs", free_port(), name=f"inventory-{n}")
            inventories.append(process)
            inventory_metrics.append(metrics_port)
        for process in inventories:
            process.wait_serving()
        addresses = ",".join(process.address for process in inventories)
        orders_metrics = free_port()
        env = {
            **orders_db.service_env(),
            "METRICS_PORT": str(orders_metrics),
            "INVENTORY_TARGET": f"ipv4:{addresses}",
            "INVENTORY_TIMEOUT": "5s",
            "SHUTDOWN_GRACE_PERIOD": "20s",
            "POD_NAME": "orders-0",
            "POD_NAMESPACE": "e2e",
            "APP_VERSION": "9.9.9",
            **orders_env,
        }
        orders = processes.start_orders(orders_binary, env, tmp_path / "logs", free_port())
        stack = Stack(inventory_db, orders_db, inventories, orders, orders_metrics, inventory_metrics)
        stacks.append(stack)
        orders.wait_serving()  # alone first: it migrates the database the others share
        for n in range(1, orders_replicas):
            replica_env = {**env, "METRICS_PORT": str(free_port()), "POD_NAME": f"orders-{n}"}
            replica = processes.start_orders(
                orders_binary, replica_env, tmp_path / "logs", free_port(), name=f"orders-{n}"
            )
            stack.more_orders.append(replica)
        for replica in stack.more_orders:
            replica.wait_serving()
        return stack

    yield start
    for stack in stacks:
        for channel in stack.channels:
            channel.close()
        for process in [stack.orders, *stack.more_orders]:
            process.kill()
        for process in stack.inventories:
            process.kill()
