"""The apps' Vault Agent annotations agree with what the platform configures in Vault, and a real
Vault Agent run from those annotations renders a credentials file the app reads and logs in with."""

from __future__ import annotations

import psycopg
import pytest
from meridian_infra.vault.policies import app_policy
from meridian_inventory import credentials
from ruamel.yaml import YAML
from vault_harness import run_agent

APPS = ["inventory", "orders"]
ENVS = ["dev", "staging", "prod"]
PREFIX = "vault.hashicorp.com/"


def load(path):
    return YAML(typ="safe").load(path.read_text())


def pod_template(repo_root, app):
    return load(repo_root / "apps" / app / "deploy" / "deployment.yaml")["spec"]["template"]


def annotations(repo_root, app):
    return {
        k.removeprefix(PREFIX): v
        for k, v in pod_template(repo_root, app)["metadata"]["annotations"].items()
        if k.startswith(PREFIX)
    }


@pytest.mark.parametrize("app", APPS)
def test_the_agent_logs_in_with_the_apps_role_and_reads_only_what_its_policy_allows(repo_root, app):
    found = annotations(repo_root, app)
    assert found["agent-inject"] == "true"
    assert found["role"] == app
    assert found.get("auth-path", "auth/kubernetes") == "auth/kubernetes"
    assert found["agent-inject-secret-db.json"] == f"database/creds/{app}"
    assert f'with secret "database/creds/{app}"' in found["agent-inject-template-db.json"]
    assert f'path "database/creds/{app}"' in app_policy(app)


@pytest.mark.parametrize("app", APPS)
def test_the_pod_runs_as_the_service_account_and_namespace_the_auth_role_binds(repo_root, app):
    assert pod_template(repo_root, app)["spec"]["serviceAccountName"] == app
    for env in ENVS:
        overlay = load(repo_root / "environments" / env / "apps" / app / "kustomization.yaml")
        assert overlay["namespace"] == app


@pytest.mark.parametrize("app", APPS)
def test_the_app_reads_the_file_the_agent_renders(repo_root, app):
    base = load(repo_root / "apps" / app / "deploy" / "kustomization.yaml")
    literals = [item for generator in base["configMapGenerator"] for item in generator["literals"]]
    assert "DB_CREDENTIALS_FILE=/vault/secrets/db.json" in literals


@pytest.mark.slow
@pytest.mark.parametrize("app", APPS)
def test_vault_agent_renders_the_annotations_template_into_credentials_that_log_in(
    configured, tmp_path, repo_root, app
):
    """The agent's one-shot run (as the injected init container does it), logged in with a token
    that carries exactly the app's policy, renders the annotation's template."""
    template = annotations(repo_root, app)["agent-inject-template-db.json"]
    token_file = tmp_path / "token"
    token_file.write_text(configured.vault.token_with(app))
    rendered = tmp_path / "secrets" / "db.json"
    config = {
        "pid_file": str(tmp_path / "agent.pid"),
        "exit_after_auth": True,
        "vault": {"address": configured.vault.address},
        "auto_auth": {"method": [{"type": "token_file", "config": {"token_file_path": str(token_file)}}]},
        "template": [{"destination": str(rendered), "contents": template, "create_dest_dirs": True}],
    }
    agent = run_agent(tmp_path / "agent.json", config)
    assert agent.returncode == 0, agent.stdout + agent.stderr

    creds = credentials.read(str(rendered))
    db = configured.databases[app].target
    with psycopg.connect(
        host=db.host, port=db.port, dbname=db.database, user=creds.username, password=creds.password
    ) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (db.owner,)
