"""Reads of one item by SKU, coalesced: the calls that arrive while a read is running wait for the
next one, which fetches all their items in one statement. Under load that is one round trip and
one query (and one pass through psycopg) for many calls instead of one each; alone, a call is read
at once, as before. Each read starts after its call arrived, so it sees every write committed
before the call: coalescing never returns an older row.
"""

from __future__ import annotations

import asyncio

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from meridian_inventory.rows import ItemRow

_SELECT_ONE = "SELECT sku, name, available, reserved, update_time FROM items WHERE sku = %s"
_SELECT_MANY = "SELECT sku, name, available, reserved, update_time FROM items WHERE sku = ANY(%s)"
# How many coalesced reads may run at once, and how many SKUs one statement asks for.
_READERS = 2
_MAX_BATCH = 64


class ItemReads:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._queue: list[tuple[str, asyncio.Future[ItemRow | None]]] = []
        self._readers = 0  # counted here, not by the tasks: a finished task's callback runs late
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references

    async def get(self, sku: str) -> ItemRow | None:
        future: asyncio.Future[ItemRow | None] = asyncio.get_running_loop().create_future()
        self._queue.append((sku, future))
        if self._readers < _READERS:
            self._readers += 1
            reader = asyncio.create_task(self._read_while_queued())
            self._tasks.add(reader)
            reader.add_done_callback(self._tasks.discard)
        return await future

    async def _read_while_queued(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
                await self._read([(sku, future) for sku, future in batch if not future.done()])
        finally:
            # No await between the empty queue and this: a get() that queues after it starts a reader.
            self._readers -= 1

    async def _read(self, batch: list[tuple[str, asyncio.Future[ItemRow | None]]]) -> None:
        if not batch:
            return
        try:
            async with self._pool.connection() as conn:
                cursor = conn.cursor(row_factory=class_row(ItemRow))
                if len(batch) == 1:
                    await cursor.execute(_SELECT_ONE, (batch[0][0],))
                else:
                    await cursor.execute(_SELECT_MANY, (list({sku for sku, _ in batch}),))
                found = {row.sku: row for row in await cursor.fetchall()}
        except Exception as error:  # every caller of the batch gets the database's error
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for sku, future in batch:
            if not future.done():
                future.set_result(found.get(sku))
