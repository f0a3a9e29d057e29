"""CreateOrder to Reserve across languages: the Go orders service calling the Python inventory
service over gRPC, each with its own PostgreSQL database, all as real processes."""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from meridian_inventory.gen import inventory_pb2 as inv
from support import postgres, processes
from support.gen import orders_pb2 as pb
from support.gen import orders_pb2_grpc
from support.stack import StartStack

pytestmark = pytest.mark.slow


def create(stub, sku: str, quantity: int = 1, request_id: str | None = None, **kwargs) -> pb.Order:
    request = pb.CreateOrderRequest(
        request_id=request_id or str(uuid.uuid4()), customer_id="customer-1", sku=sku, quantity=quantity
    )
    return stub.CreateOrder(request, timeout=30, **kwargs).order


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def log_lines(process: processes.ServiceProcess) -> list[dict[str, object]]:
    return [json.loads(line) for line in process.logs().splitlines() if line.startswith("{")]


def test_create_get_cancel_moves_stock(start_stack: StartStack) -> None:
    stack = start_stack()
    stack.seed("SKU-1", 5)
    orders, inventory = stack.orders_stub(), stack.inventory_stub()

    order = create(orders, "SKU-1", quantity=2, request_id="req-1")
    assert order.state == pb.ORDER_STATE_CONFIRMED
    item = inventory.GetItem(inv.GetItemRequest(sku="SKU-1")).item
    assert (item.available, item.reserved) == (3, 2)

    retried = create(orders, "SKU-1", quantity=2, request_id="req-1")
    assert retried.id == order.id
    assert inventory.GetItem(inv.GetItemRequest(sku="SKU-1")).item.available == 3
    assert orders.GetOrder(pb.GetOrderRequest(id=order.id)).order == retried

    cancelled = orders.CancelOrder(pb.CancelOrderRequest(id=order.id)).order
    assert cancelled.state == pb.ORDER_STATE_CANCELLED
    assert orders.CancelOrder(pb.CancelOrderRequest(id=order.id)).order.state == pb.ORDER_STATE_CANCELLED
    item = inventory.GetItem(inv.GetItemRequest(sku="SKU-1")).item
    assert (item.available, item.reserved) == (5, 0)


def test_fifty_parallel_orders_for_ten_units_confirm_exactly_ten(start_stack: StartStack) -> None:
    stack = start_stack()
    stack.seed("SKU-HOT", 10)
    orders = stack.orders_stub()

    def attempt(_: int) -> grpc.StatusCode:
        try:
            create(orders, "SKU-HOT")
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(attempt, range(50)))
    assert codes.count(grpc.StatusCode.OK) == 10
    assert codes.count(grpc.StatusCode.FAILED_PRECONDITION) == 40

    listed: list[pb.Order] = []
    token = ""
    while True:
        page = orders.ListOrders(pb.ListOrdersRequest(page_size=4, page_token=token))
        listed += page.orders
        token = page.next_page_token
        if not token:
            break
    assert len(listed) == 10
    assert all(order.state == pb.ORDER_STATE_CONFIRMED for order in listed)
    item = stack.inventory_stub().GetItem(inv.GetItemRequest(sku="SKU-HOT")).item
    assert (item.available, item.reserved) == (0, 10)


def test_refusals_leave_no_order_behind(start_stack: StartStack) -> None:
    stack = start_stack()
    stack.seed("SKU-1", 1)
    orders = stack.orders_stub()

    with pytest.raises(grpc.RpcError) as unknown:
        create(orders, "NO-SUCH-SKU")
    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND

    with pytest.raises(grpc.RpcError) as short:
        create(orders, "SKU-1", quantity=2)
    assert short.value.code() is grpc.StatusCode.FAILED_PRECONDITION

    with pytest.raises(grpc.RpcError) as bad:
        orders.CreateOrder(pb.CreateOrderRequest(sku="SKU-1", quantity=0))
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(bad.value)
    assert status is not None
    request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(request)
    assert {v.field for v in request.field_violations} == {"request_id", "customer_id", "quantity"}

    with pytest.raises(grpc.RpcError) as missing:
        orders.GetOrder(pb.GetOrderRequest(id=str(uuid.uuid4())))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND

    with psycopg.connect(stack.orders_db.conninfo()) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)


def test_request_id_follows_the_call_into_inventory(start_stack: StartStack) -> None:
    stack = start_stack()
    stack.seed("SKU-1", 5)
    create(stack.orders_stub(), "SKU-1", metadata=(("x-request-id", "e2e-trace-42"),))
    assert stack.orders.terminate() == 0
    assert stack.inventories[0].terminate() == 0

    orders_calls = [line for line in log_lines(stack.orders) if line.get("request_id") == "e2e-trace-42"]
    inventory_calls = [
        line for line in log_lines(stack.inventories[0]) if line.get("request_id") == "e2e-trace-42"
    ]
    assert [line["method"] for line in orders_calls] == ["/meridian.orders.v1.OrdersService/CreateOrder"]
    assert [line["method"] for line in inventory_calls] == ["/meridian.inventory.v1.InventoryService/Reserve"]
    assert orders_calls[0]["code"] == inventory_calls[0]["code"] == "OK"
    assert orders_calls[0]["pod"] == "orders-0"


def test_watch_order_follows_it_to_cancellation(start_stack: StartStack) -> None:
    stack = start_stack()
    stack.seed("SKU-1", 5)
    orders = stack.orders_stub()
    order = create(orders, "SKU-1")
    stream = orders.WatchOrder(pb.WatchOrderRequest(id=order.id), timeout=30)
    assert next(stream).order.state == pb.ORDER_STATE_CONFIRMED
    orders.CancelOrder(pb.CancelOrderRequest(id=order.id))
    assert next(stream).order.state == pb.ORDER_STATE_CANCELLED
    assert list(stream) == []  # the stream ends once the order is cancelled


def test_health_probes_and_shared_metric_names(start_stack: StartStack) -> None:
    stack = start_stack()
    stack.seed("SKU-1", 5)
    for process, service in (
        (stack.orders, "meridian.orders.v1.OrdersService"),
        (stack.inventories[0], "meridian.inventory.v1.InventoryService"),
    ):
        probed = process.probe(service)
        assert probed.returncode == 0, probed.stderr
        assert "status: SERVING" in probed.stderr
    create(stack.orders_stub(), "SKU-1")

    orders_metrics = scrape(stack.orders_metrics_port)
    inventory_metrics = scrape(stack.inventory_metrics_ports[0])
    assert (
        'grpc_server_handled_total{grpc_code="OK",grpc_method="CreateOrder",'
        'grpc_service="meridian.orders.v1.OrdersService",grpc_type="unary"} 1' in orders_metrics
    )
    assert (
        'grpc_client_handled_total{grpc_code="OK",grpc_method="Reserve",'
        'grpc_service="meridian.inventory.v1.InventoryService",grpc_type="unary"} 1' in orders_metrics
    )
    assert (
        'grpc_server_handled_total{grpc_code="OK",grpc_method="Reserve",'
        'grpc_service="meridian.inventory.v1.InventoryService",grpc_type="unary"} 1.0' in inventory_metrics
    )
    for text in (orders_metrics, inventory_metrics):
        assert "grpc_server_handling_seconds_bucket{" in text
    assert 'meridian_build_info{app="orders",revision="unknown",version="9.9.9"} 1' in orders_metrics
    assert 'meridian_build_info{app="inventory",' in inventory_metrics


def test_orders_finishes_the_call_in_flight_on_sigterm(start_stack: StartStack, pg_server) -> None:
    stack = start_stack(INVENTORY_TIMEOUT="60s", SHUTDOWN_GRACE_PERIOD="60s")
    stack.seed("SKU-1", 5)
    orders = stack.orders_stub()
    with psycopg.connect(stack.inventory_db.conninfo()) as lock:
        lock.execute("SELECT * FROM items WHERE sku = 'SKU-1' FOR UPDATE")
        future = orders.CreateOrder.future(
            pb.CreateOrderRequest(request_id="in-flight", customer_id="c", sku="SKU-1", quantity=1),
            timeout=60,
        )
        with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as admin:
            for _ in range(600):
                waiting = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND wait_event_type = 'Lock'",
                    (stack.inventory_db.user,),
                ).fetchone()
                if waiting and waiting[0]:
                    break
                admin.execute("SELECT pg_sleep(0.05)")
            else:
                pytest.fail("the Reserve call never reached the locked row")
        stack.orders.process.send_signal(15)
        lock.rollback()
    assert future.result().order.state == pb.ORDER_STATE_CONFIRMED
    assert stack.orders.process.wait(timeout=60) == 0


def sigterm_under_load(orders, replica: processes.ServiceProcess) -> tuple[list[str], int]:
    """Eight clients create orders without pause; after 150 succeeded, SIGTERM goes to replica;
    the load runs on until 150 more succeeded after it exited. Returns the failures and its exit code."""
    before_signal, after_exit = 150, 150
    stop = threading.Event()
    lock = threading.Lock()
    outcome: dict[str, Any] = {"ok": 0, "failed": []}
    replica_gone = threading.Event()
    ok_after_exit = threading.Semaphore(0)

    def client() -> None:
        while not stop.is_set():
            try:
                create(orders, "SKU-1")
            except grpc.RpcError as error:
                with lock:
                    outcome["failed"].append(f"{error.code()}: {error.details()}")
                continue
            with lock:
                outcome["ok"] += 1
            if replica_gone.is_set():
                ok_after_exit.release()

    workers = [threading.Thread(target=client) for _ in range(8)]
    for worker in workers:
        worker.start()
    try:
        while True:  # steady load first
            with lock:
                if outcome["ok"] >= before_signal:
                    break
            threading.Event().wait(0.05)
        exit_code = replica.terminate()
        replica_gone.set()
        for _ in range(after_exit):
            assert ok_after_exit.acquire(timeout=60), "calls stopped succeeding after the replica left"
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    return outcome["failed"], exit_code


def served(replicas: list[processes.ServiceProcess], method: str) -> list[int]:
    """How many calls of method each replica logged."""
    return [
        sum(1 for line in log_lines(replica) if str(line.get("method", "")).endswith(method))
        for replica in replicas
    ]


def test_sigterm_to_one_inventory_replica_under_load_fails_no_call(start_stack: StartStack) -> None:
    stack = start_stack(replicas=2)
    stack.seed("SKU-1", 1_000_000)
    failed, exit_code = sigterm_under_load(stack.orders_stub(), stack.inventories[0])
    assert failed == []
    assert exit_code == 0
    per_replica = served(stack.inventories, "/Reserve")
    assert all(count > 0 for count in per_replica), f"Reserve calls per replica: {per_replica}"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GRPC_PORT", "x"), ("INVENTORY_TARGET", ""), ("SHUTDOWN_GRACE_PERIOD", "soon")],
)
def test_orders_bad_configuration_exits_2_naming_the_variable(
    orders_binary: Path, tmp_path: Path, variable: str, value: str
) -> None:
    credentials = tmp_path / "db.json"
    credentials.write_text('{"username": "u", "password": "p"}')
    env = {
        "DB_CREDENTIALS_FILE": str(credentials),
        "INVENTORY_TARGET": "dns:///inventory:50051",
        variable: value,
    }
    result = subprocess.run(
        [str(orders_binary)],
        env=processes.base_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert variable in result.stderr


# A client that balances over the orders replicas and skips one whose health service says
# NOT_SERVING, as a Kubernetes Service's clients (or a mesh) would; it retries nothing itself.
BALANCED_HEALTH_CHECKED = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": "meridian.orders.v1.OrdersService"},
    }
)


def test_sigterm_to_one_orders_replica_under_load_fails_no_call(start_stack: StartStack) -> None:
    stack = start_stack(orders_replicas=2, SHUTDOWN_DRAIN_DELAY="1s")
    stack.seed("SKU-1", 1_000_000)
    replicas = [stack.orders, *stack.more_orders]
    target = "ipv4:" + ",".join(replica.address for replica in replicas)
    channel = grpc.insecure_channel(target, options=[("grpc.service_config", BALANCED_HEALTH_CHECKED)])
    stack.channels.append(channel)
    failed, exit_code = sigterm_under_load(orders_pb2_grpc.OrdersServiceStub(channel), replicas[0])
    assert failed == []
    assert exit_code == 0
    per_replica = served(replicas, "/CreateOrder")
    assert all(count > 0 for count in per_replica), f"CreateOrder calls per replica: {per_replica}"


def test_a_reservation_rolled_back_in_a_conflict_is_aborted_and_retried(
    start_stack: StartStack, pg_server
) -> None:
    stack = start_stack()
    stack.seed("SKU-1", 5)
    # PostgreSQL fails inventory's first two reservation inserts as serialization failures.
    postgres.fail_first_inserts(pg_server.admin_conninfo(stack.inventory_db.name), "reservations", "40001", 2)
    order = create(stack.orders_stub(), "SKU-1", quantity=2, request_id="req-conflict")
    assert order.state == pb.ORDER_STATE_CONFIRMED
    assert stack.inventories[0].terminate() == 0
    reserves = [
        line["code"]
        for line in log_lines(stack.inventories[0])
        if str(line.get("method")).endswith("/Reserve")
    ]
    assert reserves == ["ABORTED", "ABORTED", "OK"]  # orders' channel retried ABORTED
