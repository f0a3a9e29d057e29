"""The InventoryService handlers: check the request, call the store, map its errors to gRPC codes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
import psycopg

from meridian_inventory import convert, logs, paging, validation
from meridian_inventory.gen import inventory_pb2, inventory_pb2_grpc
from meridian_inventory.rpc_errors import abort, abort_bad_request, abort_failed_precondition
from meridian_inventory.store import (
    InsufficientStockError,
    ItemNotFoundError,
    ReservationConflictError,
    ReservationNotFoundError,
    Store,
)
from meridian_inventory.watch import StockHub


@contextlib.asynccontextmanager
async def _database_errors(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
    """A transaction PostgreSQL rolled back in a conflict (serialization failure, deadlock) is
    ABORTED; a lost, refused or timed-out database connection, or a server shutting down, is
    UNAVAILABLE. Both mean "retry the call": every write is idempotent on the order id, and a retry
    most likely runs on a fresh connection. The orders service's client retries exactly these two."""
    try:
        yield
    except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected) as error:
        logs.get().warning("database transaction lost a conflict", extra={"fields": {"error": str(error)}})
        await abort(
            context,
            grpc.StatusCode.ABORTED,
            "the change conflicted with a concurrent one and was rolled back; retry the call",
        )
    except psycopg.OperationalError as error:
        logs.get().warning("database call failed", extra={"fields": {"error": str(error)}})
        await abort(context, grpc.StatusCode.UNAVAILABLE, "the database did not answer; retry the call")


class InventoryService(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self, store: Store, hub: StockHub) -> None:
        self._store = store
        self._hub = hub

    async def GetItem(
        self, request: inventory_pb2.GetItemRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.GetItemResponse:
        if violations := validation.sku(request.sku):
            await abort_bad_request(context, violations)
        async with _database_errors(context):
            row = await self._store.get_item(request.sku)
        if row is None:
            await abort(context, grpc.StatusCode.NOT_FOUND, f"no item has SKU {request.sku!r}")
        return inventory_pb2.GetItemResponse(item=convert.item(row))

    async def ListItems(
        self, request: inventory_pb2.ListItemsRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.ListItemsResponse:
        if violations := validation.list_items(request):
            await abort_bad_request(context, violations)
        size = request.page_size or paging.DEFAULT_PAGE_SIZE
        # One row more than the page tells whether another page follows without a second query.
        async with _database_errors(context):
            rows = await self._store.list_items(paging.decode_token(request.page_token), size + 1)
        page, more = rows[:size], len(rows) > size
        return inventory_pb2.ListItemsResponse(
            items=[convert.item(row) for row in page],
            next_page_token=paging.encode_token(page[-1].sku) if more else "",
        )

    async def Reserve(
        self, request: inventory_pb2.ReserveRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.ReserveResponse:
        if violations := validation.reserve(request):
            await abort_bad_request(context, violations)
        try:
            async with _database_errors(context):
                reservation, item = await self._store.reserve(request.order_id, request.sku, request.quantity)
        except ItemNotFoundError as error:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        except InsufficientStockError as error:
            await abort_failed_precondition(context, f"items/{error.sku}", "STOCK", str(error))
        except ReservationConflictError as error:
            await abort(context, grpc.StatusCode.ALREADY_EXISTS, str(error))
        return inventory_pb2.ReserveResponse(
            reservation=convert.reservation(reservation), item=convert.item(item)
        )

    async def Release(
        self, request: inventory_pb2.ReleaseRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.ReleaseResponse:
        if violations := validation.order_id(request.order_id):
            await abort_bad_request(context, violations)
        try:
            async with _database_errors(context):
                reservation = await self._store.release(request.order_id)
        except ReservationNotFoundError as error:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        return inventory_pb2.ReleaseResponse(reservation=convert.reservation(reservation))

    async def WatchStock(
        self, request: inventory_pb2.WatchStockRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[inventory_pb2.WatchStockResponse]:
        if violations := validation.sku(request.sku):
            await abort_bad_request(context, violations)
        # Subscribe before the first read, so a change committed in between is not missed.
        with self._hub.subscribe(request.sku) as subscription:
            async with _database_errors(context):
                row = await self._store.get_item(request.sku)
            if row is None:
                await abort(context, grpc.StatusCode.NOT_FOUND, f"no item has SKU {request.sku!r}")
            yield inventory_pb2.WatchStockResponse(item=convert.item(row))
            async for _ in subscription.changes():
                async with _database_errors(context):
                    current = await self._store.get_item(request.sku)
                if current is not None and current != row:
                    row = current
                    yield inventory_pb2.WatchStockResponse(item=convert.item(row))
            # The hub closed: the server is shutting down. UNAVAILABLE tells the client to watch
            # again, and its channel will pick a replica that is still serving.
            await abort(context, grpc.StatusCode.UNAVAILABLE, "the server is shutting down; watch again")
