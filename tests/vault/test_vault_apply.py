"""The Vault resources applied to a real Vault by driving their providers the way the engine does:
idempotent, per-object updates, drift undone, adoption of what exists, and removal of an app."""

from __future__ import annotations

import psycopg
import pytest
from meridian_infra.vault.configuration import VaultConfiguration
from meridian_infra.vault.objects import VaultRequestFailed
from meridian_infra.vault.policies import app_policy
from meridian_infra.vault.settings import VaultConnection
from vault_harness import DirectEngine, Step, VaultServer, changed
from vault_stack import VaultStack, dev_spec, without_app

pytestmark = pytest.mark.slow

APPS = ["inventory", "orders"]
PLATFORM = [
    ("SecretsMount", "secret"),
    ("AuthMount", "kubernetes"),
    ("KubernetesAuthConfig", "kubernetes-config"),
    ("SecretsMount", "database"),
]


@pytest.fixture
def vault():
    server = VaultServer()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def stack(vault, pg_server):
    return VaultStack.create(vault, pg_server, APPS)


def kinds(steps, op):
    return sorted((s.type, s.name) for s in steps if s.op == op)


def test_applying_the_same_configuration_twice_changes_nothing_the_second_time(stack):
    spec = dev_spec()
    first = stack.up(spec)
    per_app = [
        (kind, app)
        for app in APPS
        for kind in ("Policy", "KubernetesAuthRole", "DatabaseConnection", "DatabaseRole")
    ]
    assert kinds(first, "create") == sorted(PLATFORM + per_app)
    assert changed(stack.up(spec)) == []
    # What Vault reads back is exactly what was stored: a refresh finds no drift either.
    assert {s.op for s in stack.engine.refresh()} == {"same"}
    assert changed(stack.up(spec)) == []


def test_a_spec_change_updates_only_the_objects_it_touches(stack, vault):
    stack.up(dev_spec())
    longer = dev_spec(vault={"mode": "dev", "databaseCredentials": {"defaultTtl": "2h", "maxTtl": "4h"}})
    steps = stack.up(longer)
    assert sorted(changed(steps)) == [Step("update", "DatabaseRole", app) for app in APPS]
    assert vault.client().read("database/roles/orders")["data"]["default_ttl"] == 7200
    assert changed(stack.up(longer)) == []


def test_a_change_made_by_hand_is_seen_by_refresh_and_undone_by_the_next_up(stack, vault):
    spec = dev_spec()
    stack.up(spec)
    widened = app_policy("orders") + 'path "secret/data/*" {\n  capabilities = ["read"]\n}\n'
    vault.client().sys.create_or_update_acl_policy("orders", widened)
    drifted = [s for s in stack.engine.refresh() if s.op != "same"]
    assert drifted == [Step("drifted", "Policy", "orders")]
    assert changed(stack.up(spec)) == [Step("update", "Policy", "orders")]
    assert vault.client().sys.read_acl_policy("orders")["data"]["policy"] == app_policy("orders")


def test_a_stack_that_lost_its_state_adopts_what_vault_already_holds(stack):
    spec = dev_spec()
    stack.up(spec)
    stack.engine = DirectEngine()  # as after `pulumi stack rm` and a fresh `pulumi up`
    assert {s.op for s in stack.up(spec)} == {"create"}
    assert changed(stack.up(spec)) == []


def test_removing_an_app_removes_its_policy_auth_role_and_database_role_and_revokes_its_credentials(
    stack, vault
):
    stack.up(dev_spec())
    issued = vault.client().read("database/creds/orders")["data"]
    db = stack.databases["orders"].target
    conninfo = (
        f"host={db.host} port={db.port} dbname={db.database} "
        f"user={issued['username']} password={issued['password']}"
    )
    psycopg.connect(conninfo).close()

    steps = stack.up(without_app(dev_spec(), "orders"))

    assert sorted(changed(steps)) == [
        Step("delete", kind, "orders")
        for kind in ("DatabaseConnection", "DatabaseRole", "KubernetesAuthRole", "Policy")
    ]
    # The role goes first: it revokes its credentials while the connection that drops them exists.
    deletes = [s.type for s in steps if s.op == "delete"]
    assert deletes.index("DatabaseRole") < deletes.index("DatabaseConnection")
    client = vault.client()
    assert client.read("sys/policies/acl/orders") is None
    assert client.read("auth/kubernetes/role/orders") is None
    assert client.read("database/roles/orders") is None
    assert client.read("database/config/orders") is None
    assert client.read("auth/kubernetes/role/inventory") is not None
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(conninfo, connect_timeout=10)


def test_removing_the_configuration_keeps_the_mounts_and_what_teams_wrote_into_them(stack, vault):
    stack.up(dev_spec())
    vault.client().secrets.kv.v2.create_or_update_secret("apps/inventory/api", secret={"key": "kept"})
    steps = stack.engine.up(lambda: None)
    assert kinds(steps, "forget") == sorted(
        [("SecretsMount", "secret"), ("SecretsMount", "database"), ("AuthMount", "kubernetes")]
    )
    assert not [s for s in steps if s.op == "delete" and s.type in ("SecretsMount", "AuthMount")]
    read = vault.client().secrets.kv.v2.read_secret_version(
        "apps/inventory/api", raise_on_deleted_version=True
    )
    assert read["data"]["data"] == {"key": "kept"}


def test_an_unreachable_vault_says_how_to_reach_it(stack, vault):
    spec = dev_spec()
    unreachable = VaultConnection(
        address="http://127.0.0.1:9",
        token="t",
        address_given=True,
        database_admins={app: db.admin() for app, db in stack.databases.items()},
    )
    with pytest.raises(VaultRequestFailed, match=r"cannot reach Vault at http://127.0.0.1:9.*port-forward"):
        DirectEngine().up(lambda: VaultConfiguration(spec, unreachable))


def test_a_token_without_the_platform_policy_is_refused_with_the_setting_named(stack, vault):
    stack.token = vault.token_with("default")
    # Whichever mount the engine writes first is refused: the mounts do not depend on each other.
    refused = r"refused to write sys/(mounts|auth)/\w+: .*meridian:vaultToken"
    with pytest.raises(VaultRequestFailed, match=refused):
        stack.up(dev_spec())
