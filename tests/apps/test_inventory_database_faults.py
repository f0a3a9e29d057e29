"""What inventory answers when its database fails: a transaction PostgreSQL rolls back in a
conflict is ABORTED; a database that is down is UNAVAILABLE while the health service stays SERVING
and meridian_database_up says 0; and it serves again once PostgreSQL is back. PostgreSQL is real,
stopped and started by the tests."""

from __future__ import annotations

import contextlib
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import psycopg.sql
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from meridian_inventory import config as inventory_config
from meridian_inventory.gen import inventory_pb2 as pb
from meridian_inventory.server import InventoryServer
from support import postgres
from support.inventory_harness import LoopThread, RunningInventory, seed, service_env

pytestmark = pytest.mark.slow


def eventually(what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
    """check()'s first result that raises nothing and is truthy, retried every 50ms."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
            last = result
        except (grpc.RpcError, AssertionError) as error:
            last = error
        time.sleep(0.05)
    raise AssertionError(f"{what}: {last}")


def database_up(inventory: RunningInventory) -> str:
    url = f"http://127.0.0.1:{inventory.server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
    return next(line for line in text.splitlines() if line.startswith("meridian_database_up "))


@pytest.fixture
def own_postgres() -> Iterator[postgres.PostgresServer]:
    """A PostgreSQL of this test alone, so stopping it disturbs no other test."""
    bin_dir = postgres.find_bin()
    if bin_dir is None:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql"
        )
    with postgres.running(bin_dir) as server:
        yield server


@pytest.fixture
def inventory_on(tmp_path: Path) -> Iterator[Callable[..., RunningInventory]]:
    loop = LoopThread()
    started: list[RunningInventory] = []

    def start(db: postgres.Database, **overrides: str) -> RunningInventory:
        server = InventoryServer(inventory_config.load(service_env(db, **overrides)))
        loop.run(server.start())
        started.append(RunningInventory(server, loop))
        return started[-1]

    yield start
    for running in started:
        running.channel.close()
        running.stop()
    loop.close()


def test_a_transaction_rolled_back_in_a_conflict_is_aborted(
    inventory: RunningInventory, database: postgres.Database, pg_server: postgres.PostgresServer
) -> None:
    seed(database, ("SKU-1", "Widget", 5))
    # PostgreSQL fails the first reservation as a deadlock victim, as in a lost conflict.
    postgres.fail_first_inserts(pg_server.admin_conninfo(database.name), "reservations", "40P01", 1)
    request = pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=2)
    with pytest.raises(grpc.RpcError) as caught:
        inventory.stub.Reserve(request)
    assert caught.value.code() is grpc.StatusCode.ABORTED
    assert "retry" in (caught.value.details() or "")
    assert inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1")).item.available == 5  # rolled back
    assert inventory.stub.Reserve(request).item.available == 3  # and the retry goes through


def test_a_database_outage_answers_unavailable_stays_serving_and_recovers(
    own_postgres: postgres.PostgresServer, inventory_on: Callable[..., RunningInventory], tmp_path: Path
) -> None:
    db = own_postgres.create_database("inventory", tmp_path / "secrets")
    inventory = inventory_on(db, DB_CHECK_INTERVAL="50ms")
    seed(db, ("SKU-1", "Widget", 5))
    stub = inventory.stub
    stub.Reserve(pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=1))
    eventually("database reported up", lambda: database_up(inventory) == "meridian_database_up 1.0")

    own_postgres.halt()
    calls = {
        "GetItem": lambda: stub.GetItem(pb.GetItemRequest(sku="SKU-1"), timeout=10),
        "ListItems": lambda: stub.ListItems(pb.ListItemsRequest(), timeout=10),
        "Reserve": lambda: stub.Reserve(
            pb.ReserveRequest(order_id="order-2", sku="SKU-1", quantity=1), timeout=10
        ),
        "Release": lambda: stub.Release(pb.ReleaseRequest(order_id="order-1"), timeout=10),
    }
    for name, call in calls.items():
        for _ in range(3):  # pooled connections first, then none to be had
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() is grpc.StatusCode.UNAVAILABLE, (name, caught.value)
            assert "retry" in (caught.value.details() or ""), name
    eventually("database reported down", lambda: database_up(inventory) == "meridian_database_up 0.0")
    # Readiness stays SERVING: the database is shared, and failing it would take every replica
    # out of its Service at once.
    health = health_pb2_grpc.HealthStub(inventory.channel)
    for service in ("", "meridian.inventory.v1.InventoryService"):
        assert (
            health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status
            == health_pb2.HealthCheckResponse.SERVING
        )

    own_postgres.resume()
    reserved = eventually("Reserve after PostgreSQL started again", calls["Reserve"])
    assert reserved.item.available == 3
    eventually("database reported up again", lambda: database_up(inventory) == "meridian_database_up 1.0")


@contextlib.contextmanager
def row_locked(pg_server: postgres.PostgresServer, database: postgres.Database, sku: str) -> Iterator[None]:
    """Another session holds the item's row lock (as a long transaction elsewhere would) until the
    block ends, then rolls back."""
    with psycopg.connect(pg_server.admin_conninfo(database.name)) as conn:
        conn.execute("SELECT sku FROM items WHERE sku = %s FOR UPDATE", (sku,))
        try:
            yield
        finally:
            conn.rollback()


def test_a_statement_the_database_times_out_is_unavailable(
    start_inventory: Callable[..., RunningInventory],
    database: postgres.Database,
    pg_server: postgres.PostgresServer,
) -> None:
    # Inventory sets no statement timeout of its own (the call's deadline ends a statement, see
    # the next test); one an operator sets on the role still ends it, with query_canceled (57014).
    with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as admin:
        admin.execute(
            psycopg.sql.SQL("ALTER ROLE {} SET statement_timeout = '200ms'").format(
                psycopg.sql.Identifier(database.user)
            )
        )
    inventory = start_inventory()  # its pooled connections start with the role's setting
    seed(database, ("SKU-1", "Widget", 5))
    request = pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=1)
    with row_locked(pg_server, database, "SKU-1"):
        began = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            inventory.stub.Reserve(request, timeout=10)
        waited = time.monotonic() - began
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE, caught.value
    assert "retry" in (caught.value.details() or "")
    assert waited < 5, f"answered after {waited:.1f}s: the statement timeout did not end the wait"
    # Nothing was reserved, and the retry goes through once the lock is gone.
    assert inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1")).item.available == 5
    assert inventory.stub.Reserve(request, timeout=10).item.available == 4


def test_a_calls_deadline_cancels_the_statement_it_waits_on(
    inventory: RunningInventory, database: postgres.Database, pg_server: postgres.PostgresServer
) -> None:
    seed(database, ("SKU-1", "Widget", 5))

    def waiting_on_a_lock() -> int:
        with psycopg.connect(pg_server.admin_conninfo(database.name), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'inventory' AND wait_event_type = 'Lock'"
            ).fetchone()
            return int(row[0]) if row else 0

    with row_locked(pg_server, database, "SKU-1"):
        with pytest.raises(grpc.RpcError) as caught:
            inventory.stub.Reserve(
                pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=1), timeout=0.5
            )
        assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        # The server cancelled the statement in PostgreSQL: no backend of inventory still waits
        # for the lock and holds a pooled connection while it does.
        eventually("inventory's statement cancelled", lambda: waiting_on_a_lock() == 0, timeout=10)
    # Had the statement kept waiting, it would have reserved once the lock was gone.
    assert inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1")).item.available == 5
    assert (
        inventory.stub.Reserve(pb.ReserveRequest(order_id="order-2", sku="SKU-1", quantity=2)).item.available
        == 3
    )
