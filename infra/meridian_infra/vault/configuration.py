"""What Vault holds for the platform, declared object by object (see objects.py for the resources).

- `secret/`: KV version 2, where teams keep each app's static secrets under `apps/<app>/`.
- `kubernetes/`: the Kubernetes auth method, and per app a role `<app>` that only the service account
  `<app>` in the namespace `<app>` can log in to, receiving the policy `<app>`.
- per app a policy `<app>`: read `database/creds/<app>` and `secret/data/apps/<app>/*`, nothing else.
- `database/`: per app a connection to the app's PostgreSQL and a role `<app>` whose credentials live
  as long as `vault.databaseCredentials` says.

The Vault Agent beside each app pod (annotations in apps/<app>/deploy/deployment.yaml) logs in with
the role and renders `database/creds/<app>` into /vault/secrets/db.json. docs/vault.md has the rest.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from meridian_infra.spec.models import EnvironmentSpec
from meridian_infra.vault.objects import (
    AuthMount,
    DatabaseConnection,
    DatabaseRole,
    KubernetesAuthConfig,
    KubernetesAuthRole,
    Policy,
    SecretsMount,
    VaultObject,
)
from meridian_infra.vault.policies import AUTH_MOUNT, DATABASE_MOUNT, KV_MOUNT, app_policy
from meridian_infra.vault.release import VaultRelease
from meridian_infra.vault.settings import VaultConnection, VaultSettingsError

DATABASE_PLUGIN = "postgresql-database-plugin"
DATABASE_PORT = 5432


def creation_statements(owner: str) -> list[str]:
    """A login role that lives until the lease ends and acts as the app's owner role, so tables its
    migrations create belong to the owner and outlive every short-lived user."""
    return [
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
        f'GRANT "{owner}" TO "{{{{name}}}}";',
        f'ALTER ROLE "{{{{name}}}}" SET role TO "{owner}";',
    ]


# Ending open sessions first makes a revoked credential stop working at once, not at the next login.
REVOCATION_STATEMENTS = [
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';",
    'DROP ROLE IF EXISTS "{{name}}";',
]


@dataclass(frozen=True)
class DatabaseTarget:
    """One app's PostgreSQL as Vault reaches it: the same host and database the app connects to."""

    host: str
    database: str
    owner: str  # the role that owns the app's schema; every issued user is a member of it
    port: int = DATABASE_PORT
    sslmode: str = "require"  # as the apps' DB_SSLMODE

    def connection_url(self) -> str:
        return (
            f"postgresql://{{{{username}}}}:{{{{password}}}}@{self.host}:{self.port}/{self.database}"
            f"?sslmode={self.sslmode}"
        )


def database_host(environment: str, app: str) -> str:
    """The DB_HOST the app's overlay sets in environments/<env>/apps/<app>/."""
    return f"{app}-db.{environment}.meridian.internal"


def database_targets(spec: EnvironmentSpec) -> dict[str, DatabaseTarget]:
    return {
        app: DatabaseTarget(host=database_host(spec.name, app), database=app, owner=app) for app in spec.apps
    }


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def ttl(duration: str) -> str:
    """A spec duration (`1h`, `7d`, `1h30m`) as whole seconds in the form Vault reads back: `3600s`."""
    total = sum(int(n) * _UNITS[unit] for n, unit in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration))
    return f"{int(total)}s"


class VaultConfiguration(pulumi.ComponentResource):
    """Every Vault object the environment's apps need; `databases` defaults to the apps' own hosts."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        connection: VaultConnection,
        opts: pulumi.ResourceOptions | None = None,
        *,
        databases: Mapping[str, DatabaseTarget] | None = None,
    ) -> None:
        if connection.token is None:
            raise VaultSettingsError("meridian:vaultToken is not set")
        missing = [app for app in spec.apps if app not in connection.database_admins]
        if missing:
            raise VaultSettingsError(
                f"meridian:vaultDatabaseAdmins has no entry for {', '.join(missing)}: Vault needs a database "
                "role per app to create its users. Set it with `pulumi config set --secret --path "
                f"'meridian:vaultDatabaseAdmins.{missing[0]}.username' <role>` (and `.password`); "
                "docs/vault.md says which privileges the role needs"
            )
        super().__init__("meridian:platform:VaultConfiguration", "vault-configuration", None, opts)
        targets = databases if databases is not None else database_targets(spec)
        address, token, ca_cert = connection.address, connection.token, connection.ca_cert

        def declare(
            kind: type[VaultObject],
            name: str,
            fields: dict[str, object],
            depends_on: list[pulumi.Resource] | None = None,
            *,
            keep: bool = False,
        ) -> VaultObject:
            opts = pulumi.ResourceOptions(parent=self, depends_on=depends_on or [], retain_on_delete=keep)
            return kind(name, address, token, fields, opts, ca_cert=ca_cert)

        # Mounts are kept when removed from the program: disabling one erases the secrets teams wrote
        # into it, or revokes every credential it issued. Created again, an existing mount is adopted.
        self.kv_mount = declare(
            SecretsMount,
            "secret",
            {
                "path": KV_MOUNT,
                "type": "kv",
                "options": {"version": "2"},
                "description": "Meridian: static secrets of the apps, under apps/<app>/",
            },
            keep=True,
        )
        self.auth_mount = declare(
            AuthMount,
            "kubernetes",
            {
                "path": AUTH_MOUNT,
                "type": "kubernetes",
                "description": "Meridian: pods log in with their service account",
            },
            keep=True,
        )
        self.auth_config = declare(
            KubernetesAuthConfig,
            "kubernetes-config",
            {
                "mount": AUTH_MOUNT,
                "kubernetes_host": connection.kubernetes.host,
                "kubernetes_ca_cert": connection.kubernetes.ca_cert,
                "token_reviewer_jwt": connection.kubernetes.token_reviewer_jwt,
                # With a CA of its own the API is not the one Vault runs in: don't look for the
                # CA and token a pod of that cluster would have.
                "disable_local_ca_jwt": bool(connection.kubernetes.ca_cert),
            },
            [self.auth_mount],
        )
        self.database_mount = declare(
            SecretsMount,
            "database",
            {
                "path": DATABASE_MOUNT,
                "type": "database",
                "options": {},
                "description": "Meridian: short-lived PostgreSQL users of the apps",
            },
            keep=True,
        )
        self.policies: dict[str, pulumi.CustomResource] = {}
        self.auth_roles: dict[str, pulumi.CustomResource] = {}
        self.database_connections: dict[str, pulumi.CustomResource] = {}
        self.database_roles: dict[str, pulumi.CustomResource] = {}
        credentials = spec.vault.database_credentials
        for app in spec.apps:
            admin, target = connection.database_admins[app], targets[app]
            self.policies[app] = declare(Policy, app, {"name": app, "policy": app_policy(app)})
            self.auth_roles[app] = declare(
                KubernetesAuthRole,
                app,
                {
                    "mount": AUTH_MOUNT,
                    "name": app,
                    "bound_service_account_names": [app],
                    "bound_service_account_namespaces": [app],
                    "token_policies": [app],
                },
                [self.auth_config],
            )
            self.database_connections[app] = declare(
                DatabaseConnection,
                app,
                {
                    "mount": DATABASE_MOUNT,
                    "name": app,
                    "plugin_name": DATABASE_PLUGIN,
                    "connection_url": target.connection_url(),
                    "username": admin.username,
                    "password": admin.password,
                    "allowed_roles": [app],
                    # Vault hashes each new password before CREATE ROLE: no plaintext in the server's logs.
                    "password_authentication": "scram-sha-256",
                },
                [self.database_mount],
            )
            self.database_roles[app] = declare(
                DatabaseRole,
                app,
                {
                    "mount": DATABASE_MOUNT,
                    "name": app,
                    "db_name": app,
                    "creation_statements": creation_statements(target.owner),
                    "revocation_statements": REVOCATION_STATEMENTS,
                    "default_ttl": ttl(credentials.default_ttl),
                    "max_ttl": ttl(credentials.max_ttl),
                },
                [self.database_connections[app]],
            )
        self.register_outputs({"policies": list(self.policies)})


def declare_vault_configuration(
    spec: EnvironmentSpec,
    release: VaultRelease,
    connection: VaultConnection | None,
    opts: pulumi.ResourceOptions | None = None,
) -> VaultConfiguration | None:
    """Vault's objects, when the stack can reach a Vault: it has a token, and our release is installed
    (the configuration then waits for it) or meridian:vaultAddress points at a Vault elsewhere."""
    connection = connection or VaultConnection()
    if connection.token is None:
        pulumi.log.warn(
            "Vault's mounts, auth roles, policies and database roles are not declared: the stack has no "
            "meridian:vaultToken. Set it with `pulumi config set --secret meridian:vaultToken <token>` "
            "(docs/vault.md)"
        )
        return None
    if release.release is None and not connection.address_given:
        pulumi.log.warn(
            "Vault's configuration is not declared because its chart was skipped; set meridian:vaultAddress "
            "to configure a Vault that runs elsewhere"
        )
        return None
    waits = [release.release] if release.release is not None else []
    # Our release's address and CA unless the stack names a Vault (and its CA) of its own.
    connection = dataclasses.replace(
        connection,
        address=connection.address if connection.address_given else release.address,
        ca_cert=connection.ca_cert or release.ca_cert,
    )
    return VaultConfiguration(
        spec, connection, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=waits))
    )
