"""The inventory service over real gRPC on loopback, backed by a real PostgreSQL."""

from __future__ import annotations

import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from meridian_inventory.gen import inventory_pb2 as pb
from support import postgres
from support.inventory_harness import RunningInventory, seed

pytestmark = pytest.mark.slow


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries no google.rpc.Status"
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            return {v.field: v.description for v in bad_request.field_violations}
    raise AssertionError(f"no BadRequest in {status}")


def test_get_item(inventory: RunningInventory, database: postgres.Database) -> None:
    seed(database, ("SKU-1", "Widget", 5))
    item = inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1")).item
    assert (item.sku, item.name, item.available, item.reserved) == ("SKU-1", "Widget", 5, 0)
    assert item.update_time.seconds > 0


def test_unknown_sku_is_not_found(inventory: RunningInventory) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        inventory.stub.GetItem(pb.GetItemRequest(sku="NOPE"))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert "NOPE" in caught.value.details()


def test_bad_reserve_lists_every_field_violation(inventory: RunningInventory) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        inventory.stub.Reserve(pb.ReserveRequest(order_id="", sku="bad sku!", quantity=0))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(caught.value)) == {"order_id", "sku", "quantity"}


def test_list_items_pages_through_everything(
    inventory: RunningInventory, database: postgres.Database
) -> None:
    seed(database, *((f"SKU-{n:02d}", f"Item {n}", n) for n in range(7)))
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = inventory.stub.ListItems(pb.ListItemsRequest(page_size=3, page_token=token))
        seen += [item.sku for item in page.items]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"SKU-{n:02d}" for n in range(7)]
    assert pages == 3


def test_list_items_rejects_bad_paging(inventory: RunningInventory) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        inventory.stub.ListItems(pb.ListItemsRequest(page_size=501, page_token="not-a-token"))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(caught.value)) == {"page_size", "page_token"}


def test_reserve_is_idempotent_on_order_id(inventory: RunningInventory, database: postgres.Database) -> None:
    seed(database, ("SKU-1", "Widget", 5))
    request = pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=2)
    first = inventory.stub.Reserve(request)
    again = inventory.stub.Reserve(request)
    assert first.reservation == again.reservation
    assert first.reservation.state == pb.RESERVATION_STATE_ACTIVE
    assert inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1")).item.available == 3

    with pytest.raises(grpc.RpcError) as caught:
        inventory.stub.Reserve(pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=3))
    assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS


def test_reserve_more_than_available_fails_and_writes_nothing(
    inventory: RunningInventory, database: postgres.Database
) -> None:
    seed(database, ("SKU-1", "Widget", 2))
    with pytest.raises(grpc.RpcError) as caught:
        inventory.stub.Reserve(pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=3))
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(caught.value)
    assert status is not None
    assert status.details[0].Is(error_details_pb2.PreconditionFailure.DESCRIPTOR)
    with psycopg.connect(database.conninfo()) as conn:
        assert conn.execute("SELECT count(*) FROM reservations").fetchone() == (0,)
        assert conn.execute("SELECT available, reserved FROM items").fetchone() == (2, 0)


def test_reserve_unknown_sku_is_not_found(inventory: RunningInventory) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        inventory.stub.Reserve(pb.ReserveRequest(order_id="order-1", sku="NOPE", quantity=1))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


def test_concurrent_reservations_never_oversell(
    inventory: RunningInventory, database: postgres.Database
) -> None:
    seed(database, ("SKU-1", "Widget", 10))

    def reserve(n: int) -> grpc.StatusCode:
        try:
            inventory.stub.Reserve(pb.ReserveRequest(order_id=f"order-{n}", sku="SKU-1", quantity=1))
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(max_workers=30) as pool:
        codes = list(pool.map(reserve, range(30)))
    assert codes.count(grpc.StatusCode.OK) == 10
    assert codes.count(grpc.StatusCode.FAILED_PRECONDITION) == 20
    item = inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1")).item
    assert (item.available, item.reserved) == (0, 10)


def test_concurrent_retries_of_one_order_take_its_stock_once(
    inventory: RunningInventory, database: postgres.Database
) -> None:
    seed(database, ("SKU-1", "Widget", 3))
    request = pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=3)
    with ThreadPoolExecutor(max_workers=12) as pool:
        replies = list(pool.map(lambda _: inventory.stub.Reserve(request), range(12)))
    assert {reply.reservation.SerializeToString() for reply in replies} == {
        replies[0].reservation.SerializeToString()
    }
    # Stock is gone now; a retry still gets the reservation it made, not a refusal.
    assert inventory.stub.Reserve(request).reservation == replies[0].reservation
    with psycopg.connect(database.conninfo()) as conn:
        assert conn.execute("SELECT available, reserved FROM items").fetchone() == (0, 3)
        assert conn.execute("SELECT count(*) FROM reservations").fetchone() == (1,)


def test_a_refusal_names_the_sku_and_the_quantities(
    inventory: RunningInventory, database: postgres.Database
) -> None:
    seed(database, ("SKU-1", "Widget", 2))
    with pytest.raises(grpc.RpcError) as caught:
        inventory.stub.Reserve(pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=3))
    assert "'SKU-1' has 2 units available, 3 were asked for" in (caught.value.details() or "")


def test_release_returns_stock_once(inventory: RunningInventory, database: postgres.Database) -> None:
    seed(database, ("SKU-1", "Widget", 5))
    inventory.stub.Reserve(pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=4))
    released = inventory.stub.Release(pb.ReleaseRequest(order_id="order-1")).reservation
    assert released.state == pb.RESERVATION_STATE_RELEASED
    inventory.stub.Release(pb.ReleaseRequest(order_id="order-1"))
    item = inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1")).item
    assert (item.available, item.reserved) == (5, 0)

    with pytest.raises(grpc.RpcError) as caught:
        inventory.stub.Release(pb.ReleaseRequest(order_id="never-reserved"))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


def test_watch_stock_sends_current_state_then_changes(
    inventory: RunningInventory, database: postgres.Database
) -> None:
    seed(database, ("SKU-1", "Widget", 5))
    stream = inventory.stub.WatchStock(pb.WatchStockRequest(sku="SKU-1"), timeout=30)
    first = next(stream).item
    assert first.available == 5
    inventory.stub.Reserve(pb.ReserveRequest(order_id="order-1", sku="SKU-1", quantity=2))
    assert next(stream).item.available == 3
    inventory.stub.Release(pb.ReleaseRequest(order_id="order-1"))
    assert next(stream).item.available == 5
    stream.cancel()


def test_watch_stream_ends_unavailable_on_shutdown(
    inventory: RunningInventory, database: postgres.Database
) -> None:
    seed(database, ("SKU-1", "Widget", 5))
    stream = inventory.stub.WatchStock(pb.WatchStockRequest(sku="SKU-1"), timeout=30)
    assert next(stream).item.available == 5
    stopper = threading.Thread(target=inventory.stop)
    stopper.start()
    with pytest.raises(grpc.RpcError) as caught:
        next(stream)
    stopper.join()
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


def test_request_id_is_echoed_or_made(inventory: RunningInventory, database: postgres.Database) -> None:
    seed(database, ("SKU-1", "Widget", 5))
    _, call = inventory.stub.GetItem.with_call(
        pb.GetItemRequest(sku="SKU-1"), metadata=(("x-request-id", "req-abc"),)
    )
    assert dict(call.trailing_metadata())["x-request-id"] == "req-abc"
    _, call = inventory.stub.GetItem.with_call(pb.GetItemRequest(sku="SKU-1"))
    made = dict(call.trailing_metadata())["x-request-id"]
    assert uuid.UUID(made)


def test_a_failed_call_sends_no_headers_and_echoes_the_request_id_in_its_trailers(
    inventory: RunningInventory,
) -> None:
    # Headers before the status would make the call committed, and no gRPC client retries that.
    with pytest.raises(grpc.RpcError) as caught:
        inventory.stub.GetItem(pb.GetItemRequest(sku="NOPE"), metadata=(("x-request-id", "req-missing"),))
    assert dict(caught.value.trailing_metadata())["x-request-id"] == "req-missing"
    assert "x-request-id" not in dict(caught.value.initial_metadata())
    with pytest.raises(grpc.RpcError) as bad:
        inventory.stub.Reserve(pb.ReserveRequest(), metadata=(("x-request-id", "req-bad"),))
    trailers = dict(bad.value.trailing_metadata())
    assert trailers["x-request-id"] == "req-bad"
    assert rpc_status.from_call(bad.value) is not None  # the field violations still arrive


def test_metrics_use_the_shared_names(inventory: RunningInventory, database: postgres.Database) -> None:
    seed(database, ("SKU-1", "Widget", 5))
    inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1"))
    with pytest.raises(grpc.RpcError):
        inventory.stub.GetItem(pb.GetItemRequest(sku="NOPE"))
    port = inventory.server.metrics_port
    labels = 'grpc_method="GetItem",grpc_service="meridian.inventory.v1.InventoryService",grpc_type="unary"'
    not_found = f'grpc_server_handled_total{{grpc_code="NotFound",{labels}}} 1.0'
    # An abort reaches the client before the interceptor counts it: read until it has been counted.
    for _ in range(100):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
        if not_found in text:
            break
        time.sleep(0.05)
    assert f'grpc_server_handled_total{{grpc_code="OK",{labels}}} 1.0' in text
    assert not_found in text
    assert f'grpc_server_handling_seconds_bucket{{{labels},le="0.005"}}' in text
    assert 'meridian_build_info{app="inventory",revision="unknown",version="1.2.3"} 1.0' in text
    assert "_created" not in text


def test_health_serving_then_not_serving_on_shutdown(inventory: RunningInventory) -> None:
    health = health_pb2_grpc.HealthStub(inventory.channel)
    watch = health.Watch(
        health_pb2.HealthCheckRequest(service="meridian.inventory.v1.InventoryService"), timeout=30
    )
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    stopper = threading.Thread(target=inventory.stop)
    stopper.start()
    assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
    watch.cancel()
    stopper.join()


def test_rotated_credentials_are_used_for_new_connections(
    start_inventory, database: postgres.Database, pg_server: postgres.PostgresServer
) -> None:
    inventory = start_inventory(DB_POOL_MAX="2")
    seed(database, ("SKU-1", "Widget", 5))
    database.rotate_password(pg_server, "rotated-secret")
    # Close every pooled connection, so the next call must log in again.
    with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (database.user,)
        )
    item = None
    for _ in range(5):  # the pool notices dead connections one call at a time
        try:
            item = inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1"), timeout=30).item
            break
        except grpc.RpcError as error:
            assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert item is not None and item.available == 5
