"""Where each app's PostgreSQL is, defined once for the two that reach it: the app, through the
ConfigMap `database` the platform puts in its namespace (DB_HOST, DB_PORT, DB_NAME, DB_SSLMODE, which
the Deployment reads with envFrom), and Vault, whose connection issues the app's users
(vault/configuration.py).

An app has a database when its contract (apps/<app>/app.yaml) names one.
"""

from __future__ import annotations

from dataclasses import dataclass

from meridian_infra.objects import Manifest, manifest
from meridian_infra.spec.models import EnvironmentSpec

DATABASE_PORT = 5432
CONFIG_MAP = "database"


@dataclass(frozen=True)
class DatabaseTarget:
    """One app's PostgreSQL: the same host and database for the app and for Vault."""

    host: str
    database: str
    owner: str  # the role that owns the app's schema; every issued user is a member of it
    port: int = DATABASE_PORT
    sslmode: str = "require"

    def connection_url(self) -> str:
        """Vault's connection URL; Vault fills in the user it logs in as."""
        return (
            f"postgresql://{{{{username}}}}:{{{{password}}}}@{self.host}:{self.port}/{self.database}"
            f"?sslmode={self.sslmode}"
        )

    def settings(self) -> dict[str, str]:
        """What the app reads from its environment (apps/<app>/README.md lists the variables)."""
        return {
            "DB_HOST": self.host,
            "DB_PORT": str(self.port),
            "DB_NAME": self.database,
            "DB_SSLMODE": self.sslmode,
        }


def database_host(environment: str, app: str) -> str:
    return f"{app}-db.{environment}.meridian.internal"


def database_targets(spec: EnvironmentSpec) -> dict[str, DatabaseTarget]:
    """Every app of the environment that has a database, and where it is."""
    return {
        name: DatabaseTarget(host=database_host(spec.name, name), database=app.database.name, owner=name)
        for name, app in spec.apps.items()
        if app.database is not None
    }


def connection_config_map(namespace: str, target: DatabaseTarget) -> Manifest:
    return manifest("v1", "ConfigMap", CONFIG_MAP, namespace, data=target.settings())
