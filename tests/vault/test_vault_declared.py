"""What each environment declares in Vault, read from the program run under Pulumi's mocks."""

from __future__ import annotations

import logging
import re

import pytest
from meridian_infra.cluster import ClusterAccess
from meridian_infra.namespaces import app_namespace_objects
from meridian_infra.offline import OFFLINE_KUBECONFIG, offline_secrets
from meridian_infra.program import StackSecrets, declare_platform
from meridian_infra.spec import load_environment
from meridian_infra.vault.configuration import ttl
from meridian_infra.vault.settings import VaultSettingsError, parse_database_admins, parse_kubernetes_api
from vault_harness import VAULT_TYPE_PREFIX, Registered, register

ENVS = ["dev", "staging", "prod"]
PLATFORM_OBJECTS = {
    ("SecretsMount", "secret"),
    ("SecretsMount", "database"),
    ("AuthMount", "kubernetes"),
    ("KubernetesAuthConfig", "kubernetes-config"),
}
PER_APP = ("Policy", "KubernetesAuthRole", "DatabaseConnection", "DatabaseRole")


@pytest.fixture(scope="module")
def declared(repo_root):
    """Per environment: (spec, {(kind, name): registration}) of the whole platform program."""
    runs = {}
    for env in ENVS:
        spec = load_environment(repo_root / "environments", env)
        registered = register(
            lambda spec=spec: declare_platform(
                spec,
                ClusterAccess(kubeconfig=OFFLINE_KUBECONFIG),
                probe_charts=False,
                secrets=offline_secrets(spec),
            )
        )
        runs[env] = (spec, {(r.type.removeprefix(VAULT_TYPE_PREFIX), r.name): r for r in registered})
    return runs


@pytest.mark.parametrize("env", ENVS)
def test_one_resource_per_vault_object(declared, env):
    spec, objects = declared[env]
    expected = PLATFORM_OBJECTS | {(kind, app) for app in spec.apps for kind in PER_APP}
    assert set(objects) == expected


@pytest.mark.parametrize("env", ENVS)
def test_each_app_logs_in_only_as_its_own_service_account_and_gets_its_own_policy(declared, env):
    spec, objects = declared[env]
    for app in spec.apps:
        role = objects[("KubernetesAuthRole", app)].inputs
        assert (role["mount"], role["name"]) == ("kubernetes", app)
        assert role["bound_service_account_names"] == [app]
        assert role["bound_service_account_namespaces"] == [app]
        assert role["token_policies"] == [app]


@pytest.mark.parametrize("env", ENVS)
def test_app_policies_read_only_the_apps_own_paths(declared, env):
    spec, objects = declared[env]
    for app in spec.apps:
        policy = objects[("Policy", app)].inputs["policy"]
        blocks = re.findall(r'path "([^"]+)" \{\s*capabilities = \[([^\]]*)\]\s*\}', policy)
        assert blocks == [(f"database/creds/{app}", '"read"'), (f"secret/data/apps/{app}/*", '"read"')]
        assert policy.count("path ") == 2


@pytest.mark.parametrize("env", ENVS)
def test_database_roles_issue_credentials_for_the_ttls_of_the_spec(declared, env):
    spec, objects = declared[env]
    credentials = spec.vault.database_credentials
    for app in spec.apps:
        role = objects[("DatabaseRole", app)].inputs
        assert (role["db_name"], role["default_ttl"], role["max_ttl"]) == (
            app,
            ttl(credentials.default_ttl),
            ttl(credentials.max_ttl),
        )
        assert any(f'GRANT "{app}"' in s for s in role["creation_statements"])
        assert any("DROP ROLE" in s for s in role["revocation_statements"])


def test_ttls_are_whole_seconds():
    assert [ttl(d) for d in ("1h", "4h", "24h", "1h30m", "7d")] == [
        "3600s",
        "14400s",
        "86400s",
        "5400s",
        "604800s",
    ]


@pytest.mark.parametrize("env", ENVS)
def test_database_connections_reach_the_host_and_database_the_app_connects_to(declared, env):
    spec, objects = declared[env]
    for app in spec.apps:
        # What the app reads (envFrom, checked by `meridian render`): the ConfigMap the platform puts
        # in its namespace.
        (settings,) = [
            o["data"]
            for o in app_namespace_objects(spec, app)
            if (o["kind"], o["metadata"]["name"]) == ("ConfigMap", "database")
        ]
        assert settings["DB_HOST"] == f"{app}-db.{env}.meridian.internal"
        connection = objects[("DatabaseConnection", app)].inputs
        assert connection["plugin_name"] == "postgresql-database-plugin"
        assert connection["allowed_roles"] == [app]
        assert connection["connection_url"] == (
            f"postgresql://{{{{username}}}}:{{{{password}}}}@{settings['DB_HOST']}:{settings['DB_PORT']}"
            f"/{settings['DB_NAME']}?sslmode={settings['DB_SSLMODE']}"
        )


@pytest.mark.parametrize("env", ENVS)
def test_the_vault_token_and_database_passwords_stay_secret(declared, env):
    _, objects = declared[env]
    for (kind, _name), registered in objects.items():
        assert "vault_token" in registered.secret_inputs
        assert "vault_token" in registered.secret_outputs
        if kind == "DatabaseConnection":
            assert {"password"} <= registered.secret_inputs & registered.secret_outputs


@pytest.mark.parametrize("env", ENVS)
def test_mounts_are_kept_when_removed_and_everything_else_is_deleted(declared, env):
    _, objects = declared[env]
    kept = {key for key, registered in objects.items() if registered.retain_on_delete}
    assert kept == {("SecretsMount", "secret"), ("SecretsMount", "database"), ("AuthMount", "kubernetes")}


def _registered_without(spec, secrets) -> list[Registered]:
    return register(
        lambda: declare_platform(
            spec, ClusterAccess(kubeconfig=OFFLINE_KUBECONFIG), probe_charts=False, secrets=secrets
        )
    )


def test_without_a_vault_token_nothing_is_declared_and_one_warning_names_the_setting(repo_root, caplog):
    spec = load_environment(repo_root / "environments", "dev")
    with caplog.at_level(logging.WARNING):
        registered = _registered_without(spec, StackSecrets())
    assert registered == []
    warnings = [r.getMessage() for r in caplog.records if "meridian:vaultToken" in r.getMessage()]
    assert len(warnings) == 1
    assert "pulumi config set --secret meridian:vaultToken" in warnings[0]


def test_a_missing_database_admin_stops_the_program_naming_the_app_and_the_setting(repo_root):
    spec = load_environment(repo_root / "environments", "dev")
    connection = offline_secrets(spec).vault
    assert connection is not None
    partial = StackSecrets(
        vault=type(connection)(
            token="t",
            database_admins={
                app: admin for app, admin in connection.database_admins.items() if app != "orders"
            },
        )
    )
    with pytest.raises(VaultSettingsError, match=r"vaultDatabaseAdmins has no entry for orders"):
        _registered_without(spec, partial)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"orders": {"username": "orders_vault"}}, r"vaultDatabaseAdmins\.orders lacks password"),
        ({"orders": "orders_vault:secret"}, r"vaultDatabaseAdmins\.orders lacks username and password"),
        (["orders"], r"must be an object \{app: \{username, password\}\}"),
    ],
)
def test_malformed_database_admins_say_which_entry_and_how_to_set_it(raw, message):
    with pytest.raises(VaultSettingsError, match=message) as raised:
        parse_database_admins(raw)
    assert "pulumi config set --secret --path" in str(raised.value)


def test_a_kubernetes_api_setting_needs_a_host():
    with pytest.raises(VaultSettingsError, match="vaultKubernetesApi must be an object with host"):
        parse_kubernetes_api({"caCert": "PEM"})
    assert parse_kubernetes_api(None).host == "https://kubernetes.default.svc"
