"""The Vault configuration of the dev environment, pointed at a test Vault and test databases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meridian_infra.spec import load_environment
from meridian_infra.spec.models import EnvironmentSpec
from meridian_infra.vault.configuration import VaultConfiguration
from meridian_infra.vault.policies import platform_policy
from meridian_infra.vault.settings import KubernetesApi, VaultConnection
from support.postgres import PostgresServer
from vault_harness import (
    REPO,
    AppDatabase,
    DirectEngine,
    Step,
    VaultServer,
    prepare_app_database,
    throwaway_ca_pem,
)

PLATFORM_POLICY = "meridian-platform"


def dev_spec(**changes: Any) -> EnvironmentSpec:
    """The dev spec, with top-level keys replaced (in the file's own camelCase) and validated again."""
    data = load_environment(REPO / "environments", "dev").model_dump(by_alias=True, mode="json")
    data.update(changes)
    return EnvironmentSpec.model_validate(data)


def without_app(spec: EnvironmentSpec, app: str) -> EnvironmentSpec:
    apps = {
        name: settings
        for name, settings in spec.model_dump(by_alias=True, mode="json")["apps"].items()
        if name != app
    }
    return dev_spec(apps=apps)


def platform_token(vault: VaultServer) -> str:
    """A token with exactly the policy docs/vault.md gives meridian:vaultToken."""
    vault.client().sys.create_or_update_acl_policy(PLATFORM_POLICY, platform_policy())
    return vault.token_with(PLATFORM_POLICY)


@dataclass
class VaultStack:
    vault: VaultServer
    token: str
    databases: dict[str, AppDatabase]
    engine: DirectEngine
    # Stands in for an API server no test logs in through; test_vault_kubernetes_auth.py sets a real one.
    kubernetes: KubernetesApi = field(
        default_factory=lambda: KubernetesApi(host="https://127.0.0.1:6443", ca_cert=throwaway_ca_pem())
    )

    @classmethod
    def create(cls, vault: VaultServer, postgres: PostgresServer, apps: list[str]) -> VaultStack:
        databases = {app: prepare_app_database(postgres, app) for app in apps}
        return cls(vault, platform_token(vault), databases, DirectEngine())

    def connection(self) -> VaultConnection:
        return VaultConnection(
            address=self.vault.address,
            token=self.token,
            address_given=True,
            database_admins={app: db.admin() for app, db in self.databases.items()},
            kubernetes=self.kubernetes,
        )

    def program(self, spec: EnvironmentSpec) -> Any:
        targets = {app: db.target for app, db in self.databases.items()}
        return lambda: VaultConfiguration(spec, self.connection(), databases=targets)

    def up(self, spec: EnvironmentSpec) -> list[Step]:
        return self.engine.up(self.program(spec))
