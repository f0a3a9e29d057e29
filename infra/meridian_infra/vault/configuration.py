"""What Vault holds for the platform, declared object by object (see objects.py for the resources).

- `secret/`: KV version 2, where teams keep each app's static secrets under `apps/<app>/`.
- `kubernetes/`: the Kubernetes auth method, and per app whose pods carry the Vault Agent (its
  contract's `vaultAgent`) a role `<app>` that only the service account `<app>` in the namespace
  `<app>` can log in to, receiving the policy `<app>`.
- per such app a policy `<app>`: read `database/creds/<app>` and `secret/data/apps/<app>/*`, nothing else.
- `database/`: per app with a database (its contract's `database`) a connection to the app's PostgreSQL
  (databases.py: where it is) and a role `<app>` whose credentials live as long as
  `vault.databaseCredentials` says.

The Vault Agent beside each app pod (annotations in apps/<app>/deploy/deployment.yaml) logs in with
the role and renders `database/creds/<app>` into /vault/secrets/db.json. docs/vault.md has the rest.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import pulumi

from meridian_infra.databases import DatabaseTarget, database_targets
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

__all__ = ["DatabaseTarget", "VaultConfiguration", "declare_vault_configuration", "ttl"]

DATABASE_PLUGIN = "postgresql-database-plugin"


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


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def ttl(duration: str) -> str:
    """A spec duration (`1h`, `7d`, `1h30m`) as whole seconds in the form Vault reads back: `3600s`."""
    total = sum(int(n) * _UNITS[unit] for n, unit in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration))
    return f"{int(total)}s"


class VaultConfiguration(pulumi.ComponentResource):
    """Every Vault object the environment's apps need; `databases` overrides where an app's database is
    (the default: the host the platform gives it, databases.py)."""

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
        # One database per app whose contract names one; `databases` may say where some of them are.
        targets = {app: (databases or {}).get(app, target) for app, target in database_targets(spec).items()}
        missing = [app for app in targets if app not in connection.database_admins]
        if missing:
            raise VaultSettingsError(
                f"meridian:vaultDatabaseAdmins has no entry for {', '.join(missing)}: Vault needs a database "
                "role per app to create its users. Set it with `pulumi config set --secret --path "
                f"'meridian:vaultDatabaseAdmins.{missing[0]}.username' <role>` (and `.password`); "
                "docs/vault.md says which privileges the role needs"
            )
        super().__init__("meridian:platform:VaultConfiguration", "vault-configuration", None, opts)
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
        for app in (name for name, contract in spec.apps.items() if contract.vault_agent):
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
        for app, target in targets.items():
            admin = connection.database_admins[app]
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
