"""Stock and reservations in PostgreSQL. Each write is one transaction: it either happens whole or
not at all, and it notifies watchers (NOTIFY is delivered only when the transaction commits)."""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from meridian_inventory.item_reads import ItemReads
from meridian_inventory.rows import ItemRow, ReservationRow

Row = TypeVar("Row")

# The LISTEN/NOTIFY channel on which every stock change is announced, with the SKU as payload.
STOCK_CHANNEL = "inventory_stock"


class ItemNotFoundError(Exception):
    def __init__(self, sku: str) -> None:
        super().__init__(f"no item has SKU {sku!r}")
        self.sku = sku


class ReservationNotFoundError(Exception):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id!r} holds no reservation")
        self.order_id = order_id


class InsufficientStockError(Exception):
    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(f"SKU {sku!r} has {available} units available, {requested} were asked for")
        self.sku = sku
        self.requested = requested
        self.available = available


class ReservationConflictError(Exception):
    def __init__(self, existing: ReservationRow) -> None:
        super().__init__(
            f"order {existing.order_id!r} already reserved {existing.quantity} of SKU {existing.sku!r};"
            " a retry must ask for the same SKU and quantity"
        )
        self.existing = existing


_SELECT_ITEM = "SELECT sku, name, available, reserved, update_time FROM items WHERE sku = %s"
_LIST_ITEMS = (
    "SELECT sku, name, available, reserved, update_time FROM items WHERE sku > %s ORDER BY sku LIMIT %s"
)
# Reserve in one statement, committed on its own (the pool's connections are in autocommit): the
# item's row lock is held only while PostgreSQL runs it, never across a round trip to this process,
# so reservations of one busy SKU queue for microseconds rather than for the event loop. PostgreSQL
# evaluates the UPDATE's condition again on the locked row, so stock never goes below zero. A
# repeated order id makes the INSERT fail, which undoes the UPDATE with it; NOTIFY is delivered
# only if the statement commits.
_RESERVE = """
WITH taken AS (
    UPDATE items
    SET available = available - %(quantity)s, reserved = reserved + %(quantity)s, update_time = now()
    WHERE sku = %(sku)s AND available >= %(quantity)s
    RETURNING sku, name, available, reserved, update_time
), created AS (
    INSERT INTO reservations (order_id, sku, quantity, state)
    SELECT %(order_id)s, sku, %(quantity)s, 'active' FROM taken
    RETURNING order_id, sku, quantity, state, create_time
)
SELECT c.order_id, c.sku, c.quantity, c.state, c.create_time,
       t.name, t.available, t.reserved, t.update_time, pg_notify(%(channel)s, t.sku)::text
FROM taken t JOIN created c ON c.sku = t.sku
"""
_RETURN_STOCK = (
    "UPDATE items SET available = available + %s, reserved = reserved - %s, update_time = now()"
    " WHERE sku = %s"
)
_SELECT_RESERVATION = (
    "SELECT order_id, sku, quantity, state, create_time FROM reservations WHERE order_id = %s"
)
_RELEASE_RESERVATION = (
    "UPDATE reservations SET state = 'released', update_time = now() WHERE order_id = %s"
    " AND state = 'active' RETURNING order_id, sku, quantity, state, create_time"
)
_NOTIFY = "SELECT pg_notify(%s, %s)"


class Store:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._item_reads = ItemReads(pool)

    async def get_item(self, sku: str) -> ItemRow | None:
        return await self._item_reads.get(sku)

    async def list_items(self, after_sku: str, limit: int) -> list[ItemRow]:
        """Items ordered by SKU, starting after after_sku (keyset paging: stable under inserts)."""
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(ItemRow))
            await cursor.execute(_LIST_ITEMS, (after_sku, limit))
            return await cursor.fetchall()

    async def reserve(self, order_id: str, sku: str, quantity: int) -> tuple[ReservationRow, ItemRow]:
        async with self._pool.connection() as conn:
            params = {"order_id": order_id, "sku": sku, "quantity": quantity, "channel": STOCK_CHANNEL}
            try:
                cursor = await conn.execute(_RESERVE, params)
                row = await cursor.fetchone()
            except psycopg.errors.UniqueViolation:
                row = None  # the order id has a reservation: answered below, as a retry
            if row is not None:
                # The reservation's columns, then the item's (its SKU is the reservation's).
                return ReservationRow(*row[:5]), ItemRow(row[1], *row[5:9])
            # Nothing was taken: a retry of an earlier reservation, an unknown SKU, or too little
            # stock, in that order of precedence.
            existing = await _fetch_one(conn, ReservationRow, _SELECT_RESERVATION, (order_id,))
            if existing is not None:
                return await _replay(conn, existing, sku, quantity)
            current = await _fetch_one(conn, ItemRow, _SELECT_ITEM, (sku,))
            if current is None:
                raise ItemNotFoundError(sku)
            raise InsufficientStockError(sku, quantity, current.available)

    async def release(self, order_id: str) -> ReservationRow:
        async with self._pool.connection() as conn, conn.transaction():
            released = await _fetch_one(conn, ReservationRow, _RELEASE_RESERVATION, (order_id,))
            if released is None:
                existing = await _fetch_one(conn, ReservationRow, _SELECT_RESERVATION, (order_id,))
                if existing is None:
                    raise ReservationNotFoundError(order_id)
                return existing  # released before: releasing again changes nothing
            await conn.execute(_RETURN_STOCK, (released.quantity, released.quantity, released.sku))
            await conn.execute(_NOTIFY, (STOCK_CHANNEL, released.sku))
            return released


async def _replay(
    conn: psycopg.AsyncConnection[Any], existing: ReservationRow, sku: str, quantity: int
) -> tuple[ReservationRow, ItemRow]:
    """The answer to a repeated Reserve: the first reservation, if the retry asks for the same."""
    if existing.sku != sku or existing.quantity != quantity:
        raise ReservationConflictError(existing)
    item = await _fetch_one(conn, ItemRow, _SELECT_ITEM, (sku,))
    if item is None:
        raise ItemNotFoundError(sku)
    return existing, item


async def _fetch_one(
    conn: psycopg.AsyncConnection[Any], row: type[Row], query: str, params: tuple[Any, ...]
) -> Row | None:
    cursor = conn.cursor(row_factory=class_row(row))
    await cursor.execute(query, params)
    return await cursor.fetchone()
