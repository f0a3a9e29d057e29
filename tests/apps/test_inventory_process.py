"""The inventory service as Kubernetes runs it: a process configured by environment variables,
probed by grpc-health-probe, stopped by SIGTERM."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from meridian_inventory.gen import inventory_pb2 as pb
from meridian_inventory.gen import inventory_pb2_grpc
from support import postgres, processes
from support.inventory_harness import seed, service_env
from support.ports import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not processes.HEALTH_PROBE.exists(), reason="bin/grpc-health-probe is not built"),
]


def run_with(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meridian_inventory"],
        env=processes.base_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GRPC_PORT", "not-a-port"),
        ("SHUTDOWN_GRACE_PERIOD", "20"),
        ("DB_CREDENTIALS_FILE", "/no/such/file.json"),
    ],
)
def test_bad_configuration_exits_2_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    credentials = tmp_path / "db.json"
    postgres.write_credentials(credentials, "user", "secret")
    result = run_with({"DB_CREDENTIALS_FILE": str(credentials), variable: value})
    assert result.returncode == 2
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def inventory_process(database: postgres.Database, tmp_path: Path):
    started: list[processes.ServiceProcess] = []

    def start(**overrides: str) -> processes.ServiceProcess:
        env = service_env(database, METRICS_PORT=str(free_port()), **overrides)
        process = processes.start_inventory(env, tmp_path / "logs", free_port())
        started.append(process)
        process.wait_serving()
        return process

    yield start
    for process in started:
        process.kill()


def wait_until_blocked_on_lock(db: postgres.Database, pg_server: postgres.PostgresServer) -> None:
    """Wait until the service's Reserve is waiting for the row lock the test holds."""
    with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as conn:
        for _ in range(600):
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND wait_event_type = 'Lock'",
                (db.user,),
            ).fetchone()
            if row and row[0] > 0:
                return
            conn.execute("SELECT pg_sleep(0.05)")
    raise AssertionError("the Reserve call never reached the locked row")


def test_health_probe_reports_serving(inventory_process) -> None:
    process = inventory_process()
    assert process.probe().returncode == 0
    served = process.probe("meridian.inventory.v1.InventoryService")
    assert served.returncode == 0, served.stdout + served.stderr
    assert "status: SERVING" in served.stderr


def test_logs_are_json_with_call_fields(inventory_process, database: postgres.Database) -> None:
    process = inventory_process(POD_NAME="inventory-7f9c", POD_NAMESPACE="inventory")
    seed(database, ("SKU-1", "Widget", 1))
    with grpc.insecure_channel(process.address) as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        stub.GetItem(pb.GetItemRequest(sku="SKU-1"), metadata=(("x-request-id", "req-log-1"),))
    assert process.terminate() == 0
    lines = [json.loads(line) for line in process.logs().splitlines()]
    calls = [line for line in lines if line.get("request_id") == "req-log-1"]
    assert len(calls) == 1
    call = calls[0]
    assert call["method"] == "/meridian.inventory.v1.InventoryService/GetItem"
    assert call["code"] == "OK"
    assert call["duration_ms"] >= 0
    assert (call["pod"], call["namespace"], call["app"]) == ("inventory-7f9c", "inventory", "inventory")


def test_sigterm_finishes_the_call_in_flight_then_exits_0(
    inventory_process, database: postgres.Database, pg_server: postgres.PostgresServer
) -> None:
    process = inventory_process(SHUTDOWN_GRACE_PERIOD="60s")
    seed(database, ("SKU-1", "Widget", 5))
    with grpc.insecure_channel(process.address) as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=60)
        assert next(health).status == health_pb2.HealthCheckResponse.SERVING
        outcome: dict[str, object] = {}

        def reserve() -> None:
            try:
                outcome["response"] = stub.Reserve(
                    pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=2), timeout=60
                )
            except grpc.RpcError as error:
                outcome["error"] = error

        with psycopg.connect(database.conninfo()) as lock:
            lock.execute("SELECT * FROM items WHERE sku = 'SKU-1' FOR UPDATE")
            caller = threading.Thread(target=reserve)
            caller.start()
            wait_until_blocked_on_lock(database, pg_server)
            process.process.send_signal(15)
            assert next(health).status == health_pb2.HealthCheckResponse.NOT_SERVING
            lock.rollback()  # lets the held call finish
        caller.join(timeout=60)
        assert "error" not in outcome, outcome.get("error")
        assert outcome["response"].item.available == 3
    assert process.process.wait(timeout=60) == 0


def test_calls_still_running_after_the_grace_period_are_cut_and_roll_back(
    inventory_process, database: postgres.Database, pg_server: postgres.PostgresServer
) -> None:
    process = inventory_process(SHUTDOWN_GRACE_PERIOD="1s")
    seed(database, ("SKU-1", "Widget", 5))
    with grpc.insecure_channel(process.address) as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        with psycopg.connect(database.conninfo()) as lock:
            lock.execute("SELECT * FROM items WHERE sku = 'SKU-1' FOR UPDATE")
            future = stub.Reserve.future(
                pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=2), timeout=60
            )
            wait_until_blocked_on_lock(database, pg_server)
            assert process.terminate() == 0
            with pytest.raises(grpc.RpcError) as caught:
                future.result()
            assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
            lock.rollback()
    with psycopg.connect(database.conninfo()) as conn:
        assert conn.execute("SELECT count(*) FROM reservations").fetchone() == (0,)
        assert conn.execute("SELECT available FROM items").fetchone() == (5,)
