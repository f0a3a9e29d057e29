"""What an app can do with what Vault gives it: its own secrets only, and database users that work
until their lease is revoked. The app's token here carries exactly the app's policy, as a login with
its Kubernetes auth role would (test_vault_kubernetes_auth.py logs in for real)."""

from __future__ import annotations

import hvac.exceptions
import psycopg
import pytest

pytestmark = pytest.mark.slow


def test_an_app_reads_its_own_secret_and_not_another_apps(configured):
    kv = configured.vault.client(configured.vault.token_with("orders")).secrets.kv.v2
    own = kv.read_secret_version("apps/orders/api", raise_on_deleted_version=True)
    assert own["data"]["data"] == {"key": "orders-key"}
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.read_secret_version("apps/inventory/api", raise_on_deleted_version=True)


def test_an_app_cannot_write_list_or_reach_other_credentials(configured):
    client = configured.vault.client(configured.vault.token_with("orders"))
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.create_or_update_secret("apps/orders/api", secret={"key": "changed"})
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.list_secrets("apps")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.read("database/creds/inventory")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.read("sys/policies/acl/orders")


def test_a_database_credential_logs_in_as_the_owner_and_stops_working_when_revoked(configured):
    client = configured.vault.client(configured.vault.token_with("orders"))
    issued = client.read("database/creds/orders")
    assert issued["lease_duration"] == 3600  # dev's databaseCredentials.defaultTtl
    username, password = issued["data"]["username"], issued["data"]["password"]
    db = configured.databases["orders"].target
    conninfo = f"host={db.host} port={db.port} dbname={db.database} user={username} password={password}"

    session = psycopg.connect(conninfo, autocommit=True)
    who = session.execute("SELECT session_user, current_user").fetchone()
    assert who == (username, db.owner)
    # What migrations create belongs to the owner role, so it outlives this short-lived user.
    session.execute("CREATE TABLE revocation_probe (id int)")
    owner = session.execute(
        "SELECT tableowner FROM pg_tables WHERE tablename = 'revocation_probe'"
    ).fetchone()
    assert owner == (db.owner,)

    configured.vault.client().sys.revoke_lease(issued["lease_id"])

    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(conninfo, connect_timeout=10)
    admin = configured.databases["orders"]
    with psycopg.connect(
        f"host={db.host} port={db.port} dbname={db.database} user={admin.admin_user} "
        f"password={admin.admin_password}"
    ) as conn:
        assert conn.execute("SELECT count(*) FROM revocation_probe").fetchone() == (0,)
