"""Versioned schema migrations: numbered SQL files applied in order, each recorded in
schema_migrations, under an advisory lock so replicas starting together apply each file once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

# Any fixed 64-bit number works; it only has to differ from other advisory locks in this database.
ADVISORY_LOCK_KEY = 0x6D6572696469616E  # "meridian"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The migration files are inconsistent, or one of them failed to apply."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def discover(package: str = "meridian_inventory.migrations") -> list[Migration]:
    """Every migration file in the package, ordered by version."""
    found: dict[int, Migration] = {}
    for entry in resources.files(package).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name} is not named like 0001_short_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migration files have version {version:04d}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


async def apply(conn: psycopg.AsyncConnection[Any], migrations: list[Migration]) -> list[int]:
    """Apply the migrations not yet recorded; return the versions applied by this call."""
    await conn.set_autocommit(True)
    await conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await conn.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in await cursor.fetchall()}
        applied: list[int] = []
        for migration in migrations:
            if migration.version in done:
                continue
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
            except psycopg.Error as error:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} failed and was rolled back: {error}"
                ) from error
            applied.append(migration.version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
