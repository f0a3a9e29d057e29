"""Checks, on a fixed interval, that the database answers, and reports what it finds as the
meridian_database_up gauge and one log line per change.

It deliberately does not touch the gRPC health status: every replica shares one database, so
failing readiness during an outage would take all of them out of their Service at once, and callers
would get connection errors instead of UNAVAILABLE answers that say what is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import Gauge
from psycopg_pool import AsyncConnectionPool

from meridian_inventory import logs


class DatabaseCheck:
    def __init__(self, pool: AsyncConnectionPool, interval_seconds: float, up: Gauge) -> None:
        self._pool = pool
        self._interval = interval_seconds
        self._up = up
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._up.set(1)  # the service has just connected at start-up
        self._task = asyncio.create_task(self._run(), name="database-check")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _answers(self) -> str | None:
        """None when the database answered within the interval, else what went wrong."""
        try:
            async with asyncio.timeout(self._interval):
                async with self._pool.connection(timeout=self._interval) as conn:
                    await conn.execute("SELECT 1")
        except Exception as error:  # whatever failed, the database did not answer
            return str(error) or type(error).__name__
        return None

    async def _run(self) -> None:
        reachable = True
        while True:
            await asyncio.sleep(self._interval)
            problem = await self._answers()
            if problem is not None and reachable:
                logs.get().error(
                    "the database does not answer; calls that need it fail with UNAVAILABLE until it does",
                    extra={"fields": {"error": problem}},
                )
            elif problem is None and not reachable:
                logs.get().info("the database answers again")
            reachable = problem is None
            self._up.set(1 if reachable else 0)
