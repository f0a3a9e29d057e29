"""The PostgreSQL connection pool, and single connections, built from DatabaseConfig."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from meridian_inventory import credentials
from meridian_inventory.config import DatabaseConfig

# How long a call waits for a pooled connection. Past it (the database is down, or every connection
# is busy for that long) the call answers UNAVAILABLE, well inside the deadline orders gives its
# calls (INVENTORY_TIMEOUT, 2s by default), so orders can retry it; psycopg_pool would wait 30s.
POOL_WAIT_SECONDS = 1.0


def connection_kwargs(config: DatabaseConfig) -> dict[str, Any]:
    """Connection parameters with the credentials as the file holds them right now."""
    secret = credentials.read(config.credentials_file)
    return {
        "host": config.host,
        "port": config.port,
        "dbname": config.name,
        "sslmode": config.sslmode,
        "user": secret.username,
        "password": secret.password,
        "application_name": "inventory",
        "connect_timeout": 10,
    }


async def connect(config: DatabaseConfig, *, autocommit: bool = False) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(autocommit=autocommit, **connection_kwargs(config))


async def open_pool(config: DatabaseConfig) -> AsyncConnectionPool:
    # kwargs is a callable so the pool re-reads the credentials file for each new connection.
    # Autocommit: a lone read is one round trip, not BEGIN, the query and the pool's ROLLBACK on
    # return; writes that need a transaction open one explicitly (conn.transaction()).
    pool = AsyncConnectionPool(
        kwargs=lambda: {**connection_kwargs(config), "autocommit": True},
        min_size=1,
        max_size=config.pool_max,
        timeout=POOL_WAIT_SECONDS,
        open=False,
        name="inventory",
    )
    await pool.open(wait=True, timeout=30)
    return pool
