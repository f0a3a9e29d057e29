"""Fan-out of stock changes to WatchStock streams.

One LISTEN connection per process hears every change committed by any replica (PostgreSQL
NOTIFY), and wakes the streams that follow that SKU. A wake-up carries no data: the stream reads the
item again, so a burst of changes collapses into one read and no stale state is ever sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg

from meridian_inventory import logs
from meridian_inventory.store import STOCK_CHANNEL

Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]

# The wait before listening again after the LISTEN connection broke (doubling up to the maximum).
_RETRY_FIRST = 0.2
_RETRY_MAX = 5.0


class Subscription:
    """Wakes when the followed SKU may have changed; ends when the hub closes."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self.closed = False

    def notify(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def changes(self) -> AsyncIterator[None]:
        """Yield once per wake-up, until the hub closes."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.closed:
                return
            yield None


class StockHub:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._closed = False

    async def start(self) -> None:
        """Start listening; returns once the first LISTEN is in place."""
        self._task = asyncio.create_task(self._run(), name="stock-hub")
        await self._listening.wait()

    @contextlib.contextmanager
    def subscribe(self, sku: str) -> Any:
        subscription = Subscription()
        if self._closed:
            subscription.close()
        self._subscribers[sku].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[sku].discard(subscription)
            if not self._subscribers[sku]:
                del self._subscribers[sku]

    async def close(self) -> None:
        """End every stream, then stop listening."""
        self._closed = True
        for subscriptions in list(self._subscribers.values()):
            for subscription in subscriptions:
                subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _wake(self, sku: str | None) -> None:
        targets = [self._subscribers.get(sku, set())] if sku is not None else self._subscribers.values()
        for subscriptions in targets:
            for subscription in subscriptions:
                subscription.notify()

    async def _run(self) -> None:
        delay = _RETRY_FIRST
        while True:
            try:
                async with await self._connect() as conn:
                    await conn.execute(f"LISTEN {STOCK_CHANNEL}")
                    if self._listening.is_set():
                        # Changes made while the connection was down were not heard: re-read all.
                        self._wake(None)
                    self._listening.set()
                    delay = _RETRY_FIRST
                    async for notice in conn.notifies():
                        self._wake(notice.payload)
            except (psycopg.Error, OSError) as error:
                logs.get().warning(
                    "stock listener lost its connection; listening again",
                    extra={"fields": {"error": str(error), "retry_in_s": delay}},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)
