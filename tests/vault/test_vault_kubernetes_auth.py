"""Kubernetes auth against a real API server (the local control plane): an app's service account
logs in to its role and gets exactly its policy; no other service account can use that role; and
Vault Agent, logging in the way the injected init container does, renders working credentials."""

from __future__ import annotations

import hvac.exceptions
import psycopg
import pytest
from kube_harness import LocalCluster, free_port_base
from meridian_infra.vault.settings import KubernetesApi
from meridian_inventory import credentials
from ruamel.yaml import YAML
from vault_harness import VaultServer, run_agent
from vault_stack import VaultStack, dev_spec

pytestmark = pytest.mark.slow

APPS = ["inventory", "orders"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    local = LocalCluster(tmp_path_factory.mktemp("vault-kube"), free_port_base())
    started = local.meridian("cluster", "up", "--local")
    try:
        if started.returncode != 0:
            pytest.fail(f"`meridian cluster up --local` failed:\n{started.stdout}\n{started.stderr}")
        api = local.api()
        for app in APPS:
            api.service_account(app, app)
        api.service_account("inventory", "orders")  # right name, wrong namespace
        api.service_account("vault", "vault")
        api.may_review_tokens("vault", "vault")
        yield api
        api.close()
    finally:
        local.meridian("cluster", "down", "--local", "--purge")


@pytest.fixture(scope="module")
def stack(cluster, pg_server):
    vault = VaultServer()
    try:
        vault.wait_ready()
        stack = VaultStack.create(vault, pg_server, APPS)
        stack.kubernetes = KubernetesApi(
            host=cluster.server, ca_cert=cluster.ca_pem, token_reviewer_jwt=cluster.token("vault", "vault")
        )
        stack.up(dev_spec())
        yield stack
    finally:
        vault.stop()


def test_an_apps_service_account_logs_in_to_its_role_and_gets_exactly_its_policy(cluster, stack):
    client = stack.vault.client(token="")
    login = client.auth.kubernetes.login(role="orders", jwt=cluster.token("orders", "orders"))
    assert sorted(login["auth"]["token_policies"]) == ["default", "orders"]
    assert login["auth"]["metadata"]["service_account_namespace"] == "orders"
    assert client.read("database/creds/orders")["data"]["username"]
    with pytest.raises(hvac.exceptions.Forbidden):
        client.read("database/creds/inventory")


@pytest.mark.parametrize(("namespace", "name"), [("inventory", "inventory"), ("inventory", "orders")])
def test_no_other_service_account_can_use_an_apps_role(cluster, stack, namespace, name):
    client = stack.vault.client(token="")
    with pytest.raises((hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest), match="not authorized"):
        client.auth.kubernetes.login(role="orders", jwt=cluster.token(namespace, name))


def test_vault_agent_logs_in_like_the_injected_init_container_and_renders_credentials(
    cluster, stack, tmp_path, repo_root
):
    deployment = YAML(typ="safe").load((repo_root / "apps/orders/deploy/deployment.yaml").read_text())
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    jwt = tmp_path / "serviceaccount-token"
    jwt.write_text(cluster.token("orders", deployment["spec"]["template"]["spec"]["serviceAccountName"]))
    rendered = tmp_path / "secrets" / "db.json"
    config = {
        "pid_file": str(tmp_path / "agent.pid"),
        "exit_after_auth": True,
        "vault": {"address": stack.vault.address},
        "auto_auth": {
            "method": [
                {
                    "type": "kubernetes",
                    "mount_path": annotations.get("vault.hashicorp.com/auth-path", "auth/kubernetes"),
                    "config": {"role": annotations["vault.hashicorp.com/role"], "token_path": str(jwt)},
                }
            ]
        },
        "template": [
            {
                "destination": str(rendered),
                "contents": annotations["vault.hashicorp.com/agent-inject-template-db.json"],
                "create_dest_dirs": True,
            }
        ],
    }
    agent = run_agent(tmp_path / "agent.json", config)
    assert agent.returncode == 0, agent.stdout + agent.stderr

    creds = credentials.read(str(rendered))
    db = stack.databases["orders"].target
    with psycopg.connect(
        host=db.host, port=db.port, dbname=db.database, user=creds.username, password=creds.password
    ) as conn:
        assert conn.execute("SELECT session_user").fetchone() == (creds.username,)
