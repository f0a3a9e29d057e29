"""GetItem reads coalesced under concurrency: every caller gets its own item (or NOT_FOUND), and
a read never returns stock older than a reservation that finished before it started."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from meridian_inventory.gen import inventory_pb2 as pb
from support import postgres
from support.inventory_harness import RunningInventory, seed

pytestmark = pytest.mark.slow


def test_concurrent_reads_each_get_their_own_item(
    inventory: RunningInventory, database: postgres.Database
) -> None:
    seed(database, *((f"SKU-{n}", f"Item {n}", n) for n in range(20)))

    def read(n: int) -> tuple[int, object]:
        sku = f"SKU-{n % 25}"  # 20 known SKUs and 5 unknown ones
        try:
            item = inventory.stub.GetItem(pb.GetItemRequest(sku=sku), timeout=30).item
        except grpc.RpcError as error:
            return n, error.code()
        return n, (item.sku, item.available)

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(read, range(500)))
    for n, got in results:
        k = n % 25
        assert got == ((f"SKU-{k}", k) if k < 20 else grpc.StatusCode.NOT_FOUND), n


def test_a_read_sees_the_reservation_finished_before_it(
    inventory: RunningInventory, database: postgres.Database
) -> None:
    seed(database, ("SKU-1", "Widget", 100))

    def reserve_then_read(n: int) -> int:
        inventory.stub.Reserve(pb.ReserveRequest(order_id=f"order-{n}", sku="SKU-1", quantity=1), timeout=30)
        return inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1"), timeout=30).item.reserved

    with ThreadPoolExecutor(max_workers=16) as pool:
        seen = list(pool.map(reserve_then_read, range(64)))
    # Each caller's own reservation is counted in what it reads afterwards.
    assert all(reserved >= 1 for reserved in seen)
    assert inventory.stub.GetItem(pb.GetItemRequest(sku="SKU-1")).item.reserved == 64
