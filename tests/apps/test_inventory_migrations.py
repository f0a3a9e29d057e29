"""Schema migrations against a real PostgreSQL: order, bookkeeping, concurrency, rollback."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from meridian_inventory import database, migrate
from meridian_inventory.config import DatabaseConfig
from support import postgres

pytestmark = pytest.mark.slow


def db_config(db: postgres.Database) -> DatabaseConfig:
    return DatabaseConfig(db.host, db.port, db.name, "disable", str(db.credentials_file), 5, 5.0)


async def apply_once(db: postgres.Database, migrations: list[migrate.Migration]) -> list[int]:
    async with await database.connect(db_config(db)) as conn:
        return await migrate.apply(conn, migrations)


def test_packaged_migrations_are_numbered_in_order() -> None:
    versions = [m.version for m in migrate.discover()]
    assert versions and versions[0] == 1
    assert versions == sorted(set(versions))


def test_applies_each_migration_once_and_records_it(database: postgres.Database) -> None:
    migrations = migrate.discover()
    assert asyncio.run(apply_once(database, migrations)) == [m.version for m in migrations]
    assert asyncio.run(apply_once(database, migrations)) == []
    with psycopg.connect(database.conninfo()) as conn:
        recorded = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert recorded == [(m.version, m.name) for m in migrations]


def test_replicas_starting_together_apply_each_migration_once(database: postgres.Database) -> None:
    migrations = migrate.discover()

    async def replicas() -> list[list[int]]:
        return await asyncio.gather(*(apply_once(database, migrations) for _ in range(5)))

    results = asyncio.run(replicas())
    assert sorted(v for applied in results for v in applied) == [m.version for m in migrations]


def test_failed_migration_is_rolled_back_and_not_recorded(database: postgres.Database) -> None:
    migrations = [
        migrate.Migration(1, "good", "CREATE TABLE good (id int)"),
        migrate.Migration(2, "bad", "CREATE TABLE half (id int); SELECT no_such_function()"),
    ]
    with pytest.raises(migrate.MigrationError, match="0002_bad"):
        asyncio.run(apply_once(database, migrations))
    with psycopg.connect(database.conninfo()) as conn:
        assert conn.execute("SELECT to_regclass('half')").fetchone() == (None,)
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]
