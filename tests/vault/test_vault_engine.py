"""The Vault resources under the real Pulumi engine (bin/pulumi, a local file backend in a temp
folder): `pulumi up` twice changes nothing the second time, refresh finds no drift, removing an app
deletes its objects, and destroy keeps the mounts."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from vault_harness import REPO
from vault_stack import VaultStack

pytestmark = pytest.mark.slow

PULUMI = REPO / "bin" / "pulumi"
APPS = ["inventory", "orders"]

PROJECT = f"""name: meridian-vault-test
description: Only Meridian's Vault configuration, against a test Vault.
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: {REPO / ".venv"}
"""

PROGRAM = '''"""The dev spec's Vault configuration; the apps and their databases come from config."""

from pathlib import Path

import pulumi
from meridian_infra.spec import load_environment
from meridian_infra.spec.models import EnvironmentSpec
from meridian_infra.vault.configuration import DatabaseTarget, VaultConfiguration
from meridian_infra.vault.settings import read_vault_connection

test = pulumi.Config("test")
data = load_environment(Path(test.require("environments")), "dev").model_dump(by_alias=True, mode="json")
data["apps"] = {app: settings for app, settings in data["apps"].items() if app in test.require_object("apps")}
spec = EnvironmentSpec.model_validate(data)
targets = {app: DatabaseTarget(**target) for app, target in test.require_object("databases").items()}
VaultConfiguration(spec, read_vault_connection(pulumi.Config("meridian")), databases=targets)
'''


@dataclass
class PulumiProject:
    dir: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PULUMI), *args, "--non-interactive"],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, f"pulumi {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def last_changes(self) -> dict[str, int]:
        history = json.loads(self.ok("stack", "history", "--json"))
        changes: dict[str, int] = history[0]["resourceChanges"]
        return changes


@pytest.fixture
def project(tmp_path, vault_server, pg_server):
    if not PULUMI.exists():
        pytest.fail("bin/pulumi is missing: run `make tools` (tools/pulumi/build.sh)")
    stack = VaultStack.create(vault_server, pg_server, APPS)
    (tmp_path / "program").mkdir()
    (tmp_path / "program" / "Pulumi.yaml").write_text(PROJECT)
    (tmp_path / "program" / "__main__.py").write_text(PROGRAM)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VAULT_"))}
    env |= {
        "PATH": f"{REPO / 'bin'}:{env['PATH']}",
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": secrets.token_hex(16),
        "PULUMI_SKIP_UPDATE_CHECK": "1",
    }
    (tmp_path / "state").mkdir()
    pulumi = PulumiProject(tmp_path / "program", env)
    pulumi.ok("stack", "init", "vault-test")
    databases = {
        app: {
            "host": db.target.host,
            "port": db.target.port,
            "database": db.target.database,
            "owner": db.target.owner,
            "sslmode": db.target.sslmode,
        }
        for app, db in stack.databases.items()
    }
    admins = {
        app: {"username": db.admin_user, "password": db.admin_password} for app, db in stack.databases.items()
    }
    plain = {
        "test:environments": str(REPO / "environments"),
        "test:apps": json.dumps(APPS),
        "test:databases": json.dumps(databases),
        "meridian:vaultAddress": vault_server.address,
        "meridian:vaultKubernetesApi": json.dumps(
            {"host": stack.kubernetes.host, "caCert": stack.kubernetes.ca_cert}
        ),
    }
    secret = {"meridian:vaultToken": stack.token, "meridian:vaultDatabaseAdmins": json.dumps(admins)}
    flags = [arg for key, value in plain.items() for arg in ("--plaintext", f"{key}={value}")]
    flags += [arg for key, value in secret.items() for arg in ("--secret", f"{key}={value}")]
    pulumi.ok("config", "set-all", *flags)
    return pulumi, stack


def test_pulumi_up_twice_then_remove_an_app_then_destroy(project):
    pulumi, stack = project
    client = stack.vault.client()

    pulumi.ok("up", "--yes", "--skip-preview")
    created = pulumi.last_changes()
    # 4 platform objects and 4 per app, plus the stack and the component that holds them.
    assert created == {"create": 4 + 4 * len(APPS) + 2}
    assert client.read("database/roles/orders")["data"]["default_ttl"] == 3600

    pulumi.ok("up", "--yes", "--skip-preview")
    assert pulumi.last_changes() == {"same": created["create"]}
    pulumi.ok("refresh", "--yes", "--skip-preview")
    pulumi.ok("preview", "--expect-no-changes")

    pulumi.ok("config", "set", "test:apps", json.dumps(["inventory"]))
    pulumi.ok("up", "--yes", "--skip-preview")
    assert pulumi.last_changes() == {"delete": 4, "same": created["create"] - 4}
    assert client.read("sys/policies/acl/orders") is None
    assert client.read("auth/kubernetes/role/orders") is None
    assert client.read("database/roles/orders") is None
    assert client.read("sys/policies/acl/inventory") is not None

    pulumi.ok("destroy", "--yes", "--skip-preview")
    assert client.read("sys/policies/acl/inventory") is None
    mounts = client.sys.list_mounted_secrets_engines()["data"]
    assert {"secret/", "database/"} <= set(mounts)
    assert "kubernetes/" in client.sys.list_auth_methods()["data"]
