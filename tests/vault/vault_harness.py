"""A real Vault dev server for tests, app databases prepared the way docs/vault.md says, and a small
driver that applies the program's Vault resources the way the Pulumi engine does, step by step.

The driver is not a second engine: it records what the program registers (under Pulumi's mocks, so
the inputs and the pickled provider are exactly what `pulumi up` would send), then calls each
provider's check, diff, create, update and delete in the engine's order, keeping the state between
runs. The real engine's runs are in test_vault_engine.py.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill
import httpx
import hvac
import psycopg
import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from meridian_infra.offline import Declared, run_with_mocks
from meridian_infra.vault.configuration import DatabaseTarget
from meridian_infra.vault.objects import VaultObjectProvider
from meridian_infra.vault.settings import DatabaseAdmin
from psycopg import sql
from pulumi.runtime import rpc
from support.ports import free_port
from support.postgres import PostgresServer

REPO = Path(__file__).resolve().parents[2]
VAULT_BIN = REPO / "bin" / "vault"
# How long the dev server may take to answer on a loaded 2-core machine.
START_TIMEOUT_S = 90.0
VAULT_TYPE_PREFIX = "pulumi-python:dynamic/vault:"


class VaultServer:
    """`vault server -dev` on a free loopback port with a random root token, its log in a temp folder."""

    def __init__(self, binary: Path = VAULT_BIN) -> None:
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self.root_token = secrets.token_hex(16)
        self.dir = Path(tempfile.mkdtemp(prefix="meridian-vault-"))
        self.log_path = self.dir / "vault.log"
        argv = [
            str(binary),
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            f"-dev-root-token-id={self.root_token}",
            # Without this the dev server writes its root token to ~/.vault-token.
            "-dev-no-store-token",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def client(self, token: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.address, token=token or self.root_token, timeout=30)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vault exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                # 200: initialized, unsealed and active.
                if httpx.get(f"{self.address}/v1/sys/health", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"vault did not become ready within {START_TIMEOUT_S}s:\n{self.log()}")

    def token_with(self, *policies: str) -> str:
        """A token with exactly these policies (and Vault's `default`, as an auth role's tokens get)."""
        created = self.client().auth.token.create(policies=list(policies), ttl="1h")
        token: str = created["auth"]["client_token"]
        return token

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass(frozen=True)
class AppDatabase:
    target: DatabaseTarget
    admin_user: str
    admin_password: str

    def admin(self) -> DatabaseAdmin:
        return DatabaseAdmin(username=self.admin_user, password=self.admin_password)


def run_agent(config_file: Path, config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Vault Agent run once (exit_after_auth) with `config`, written to `config_file` first."""
    config_file.write_text(json.dumps(config))
    return subprocess.run(
        [str(VAULT_BIN), "agent", f"-config={config_file}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def prepare_app_database(server: PostgresServer, app: str) -> AppDatabase:
    """The app's database and the two roles docs/vault.md asks for: the owner of its schema, and the
    admin Vault logs in as (creates roles, grants the owner, ends sessions of revoked users)."""
    suffix = secrets.token_hex(3)
    owner, database, admin = f"{app}_owner_{suffix}", f"{app}_{suffix}", f"{app}_vault_{suffix}"
    password = secrets.token_urlsafe(18)
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(owner)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner))
        )
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(admin), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(sql.Identifier(owner), sql.Identifier(admin))
        )
        conn.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(sql.Identifier(admin)))
    target = DatabaseTarget(
        host=server.host, port=server.port, database=database, owner=owner, sslmode="disable"
    )
    return AppDatabase(target=target, admin_user=admin, admin_password=password)


# ---- the engine's steps, driven directly -------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    retain_on_delete: bool
    secret_inputs: frozenset[str] = frozenset()
    secret_outputs: frozenset[str] = frozenset()


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def register(program: Callable[[], Any]) -> list[Registered]:
    """Each Vault resource's inputs and options, in the order the program registered them."""
    options: dict[tuple[str, str], pulumi.ResourceOptions] = {}

    def note_options(args: pulumi.ResourceTransformationArgs) -> None:
        # The options as the resource hands them to the engine (the mocks see inputs only).
        options[(args.type_, args.name)] = args.opts

    def noted() -> Any:
        pulumi.runtime.register_stack_transformation(note_options)
        return program()

    monitor = run_with_mocks(noted, _Mocks(), stack="vault-test")
    registered = []
    for registration in monitor.get_registered_resources().values():
        declared = Declared.of(registration)
        if not declared.type.startswith(VAULT_TYPE_PREFIX):
            continue
        opts = options[(declared.type, declared.name)]
        registered.append(
            Registered(
                urn=declared.urn,
                type=declared.type,
                name=declared.name,
                inputs=_unwrap(dict(registration.state)),
                retain_on_delete=bool(opts.retain_on_delete),
                secret_inputs=declared.secret_inputs,
                secret_outputs=frozenset(opts.additional_secret_outputs or ()),
            )
        )
    return registered


def _unwrap(value: Any) -> Any:
    """Secrets as plain values: the engine hands a dynamic provider plain values (it accepts no secrets)."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def provider_of(inputs: dict[str, Any]) -> VaultObjectProvider:
    """Unpickle the provider from its `__provider` input, as the dynamic-provider host does."""
    # Trusted: the pickle was made by this process's own run of the program.
    provider: VaultObjectProvider = dill.loads(base64.b64decode(inputs["__provider"]))  # noqa: S301
    return provider


@dataclass
class Stored:
    type: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    retain_on_delete: bool


@dataclass(frozen=True, order=True)
class Step:
    op: str  # create, update, same, replace, delete, forget (retained on delete)
    type: str  # the kind, e.g. Policy
    name: str


@dataclass
class DirectEngine:
    """The state of one stack, and `up`: check → diff → create/update/replace per registered
    resource in registration order, then deletes of what is no longer registered, newest first."""

    state: dict[str, Stored] = field(default_factory=dict)

    def up(self, program: Callable[[], Any]) -> list[Step]:
        steps: list[Step] = []
        registered = register(program)
        for res in registered:
            provider = provider_of(res.inputs)
            kind = res.type.removeprefix(VAULT_TYPE_PREFIX)
            old = self.state.get(res.urn)
            news = provider.check(old.inputs if old else {}, dict(res.inputs)).inputs
            if old is None:
                created = provider.create(dict(news))
                self.state[res.urn] = Stored(
                    res.type, created.id, news, _outs(created.outs, news), res.retain_on_delete
                )
                steps.append(Step("create", kind, res.name))
                continue
            diff = provider.diff(old.id, dict(old.outputs), dict(news))
            if not diff.changes:
                old.inputs, old.retain_on_delete = news, res.retain_on_delete
                steps.append(Step("same", kind, res.name))
            elif diff.replaces:
                if diff.delete_before_replace:
                    provider.delete(old.id, dict(old.outputs))
                created = provider.create(dict(news))
                if not diff.delete_before_replace:
                    provider.delete(old.id, dict(old.outputs))
                self.state[res.urn] = Stored(
                    res.type, created.id, news, _outs(created.outs, news), res.retain_on_delete
                )
                steps.append(Step("replace", kind, res.name))
            else:
                updated = provider.update(old.id, dict(old.outputs), dict(news))
                old.inputs, old.outputs = news, _outs(updated.outs, news)
                steps.append(Step("update", kind, res.name))
        gone = [urn for urn in self.state if urn not in {r.urn for r in registered}]
        for urn in reversed(gone):
            stored = self.state.pop(urn)
            kind = stored.type.removeprefix(VAULT_TYPE_PREFIX)
            name = urn.rsplit("::", 1)[-1]
            if stored.retain_on_delete:
                steps.append(Step("forget", kind, name))
                continue
            provider_of(stored.outputs).delete(stored.id, dict(stored.outputs))
            steps.append(Step("delete", kind, name))
        return steps

    def refresh(self) -> list[Step]:
        """`pulumi refresh`: read every object back; what Vault no longer has leaves the state."""
        steps = []
        for urn, stored in list(self.state.items()):
            result = provider_of(stored.outputs).read(stored.id, dict(stored.outputs))
            kind, name = stored.type.removeprefix(VAULT_TYPE_PREFIX), urn.rsplit("::", 1)[-1]
            if not result.id:
                del self.state[urn]
                steps.append(Step("gone", kind, name))
                continue
            outs = {**(result.outs or {}), "__provider": stored.outputs["__provider"]}
            steps.append(Step("same" if outs == stored.outputs else "drifted", kind, name))
            stored.outputs = outs
        return steps


def _outs(outs: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, Any]:
    """The dynamic-provider host adds the pickled provider to every create/update result."""
    return {**(outs or {}), "__provider": inputs["__provider"]}


def changed(steps: list[Step]) -> list[Step]:
    return [s for s in steps if s.op != "same"]


@contextlib.contextmanager
def connected(conninfo: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        yield conn


def throwaway_ca_pem() -> str:
    """A self-signed CA certificate: Kubernetes auth outside a cluster needs one, even when no test
    logs in through it (test_vault_kubernetes_auth.py uses a real API server's)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meridian-vault-tests")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()
