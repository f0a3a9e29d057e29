"""Vault's TLS outside dev: the certificates the stack issues, and a real Vault serving them with the
listener the program writes, reached by the program's hvac client that trusts only the stack's CA."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest
import requests
from cryptography import x509
from meridian_infra.tls import NOT_AFTER, RENEW_BEFORE, CertificatesProvider, due_for_renewal, issue
from meridian_infra.vault.certificates import server_names
from meridian_infra.vault.objects import SecretsMountProvider, VaultRequestFailed
from meridian_infra.vault.release import tls_listener
from support.ports import free_port
from vault_harness import START_TIMEOUT_S, VAULT_BIN


def _sans(pem: str) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(pem.encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(names.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    return dns, ips


def test_the_server_certificate_is_signed_by_the_stacks_ca_and_names_every_address():
    issued = issue("vault.meridian", server_names("vault", 3))
    ca = x509.load_pem_x509_certificate(issued.ca_cert.encode())
    server = x509.load_pem_x509_certificate(issued.server_cert.encode())
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    dns, ips = _sans(issued.server_cert)
    assert {"vault.vault.svc", "vault-active.vault.svc", "vault-2.vault-internal", "localhost"} <= dns
    assert {"127.0.0.1", "::1"} == ips
    assert "vault-3.vault-internal" not in dns


def test_renewal_is_due_only_within_the_window_before_the_end():
    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert not due_for_renewal((now + RENEW_BEFORE + dt.timedelta(days=1)).isoformat(), now)
    assert due_for_renewal((now + RENEW_BEFORE - dt.timedelta(days=1)).isoformat(), now)
    assert due_for_renewal("", now), "a state without an end date renews rather than guesses"


def test_pulumi_up_replaces_certificates_when_due_or_renamed_and_leaves_them_otherwise():
    provider = CertificatesProvider()
    names = server_names("vault", 3)
    fresh = {
        "common_name": "vault.meridian",
        "names": names,
        NOT_AFTER: issue("vault.meridian", names).outputs()[NOT_AFTER],
    }
    assert not provider.diff("id", fresh, {"common_name": "vault.meridian", "names": names}).changes
    ending = {**fresh, NOT_AFTER: (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()}
    assert provider.diff("id", ending, {"common_name": "vault.meridian", "names": names}).replaces == [
        NOT_AFTER
    ]
    grown = server_names("vault", 5)
    assert provider.diff("id", fresh, {"common_name": "vault.meridian", "names": grown}).replaces == ["names"]


class TlsVault:
    """`vault server` (not dev mode: dev mode serves plain HTTP) with in-memory storage and the program's
    TLS listener, initialised and unsealed with one key share."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="meridian-vault-tls-"))
        self.port, cluster_port = free_port(), free_port()
        self.address = f"https://127.0.0.1:{self.port}"
        self.issued = issue("vault.meridian", server_names("vault", 1))
        (self.dir / "tls.crt").write_text(self.issued.server_cert)
        (self.dir / "tls.key").write_text(self.issued.server_key)
        self.ca_file = self.dir / "ca.crt"
        self.ca_file.write_text(self.issued.ca_cert)
        config = self.dir / "vault.hcl"
        config.write_text(
            'storage "inmem" {}\ndisable_mlock = true\n'
            f'api_addr = "{self.address}"\ncluster_addr = "https://127.0.0.1:{cluster_port}"\n'
            + tls_listener(f"127.0.0.1:{self.port}", f"127.0.0.1:{cluster_port}", str(self.dir))
        )
        self.log_path = self.dir / "vault.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(VAULT_BIN), "server", f"-config={config}"], stdout=log, stderr=subprocess.STDOUT, env={}
            )
        self.root_token = self._initialise()

    def client(self) -> hvac.Client:
        return hvac.Client(
            url=self.address, token=getattr(self, "root_token", None), verify=str(self.ca_file)
        )

    def _initialise(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"vault exited with {self.process.returncode}:\n{self.log_path.read_text()}"
                )
            with contextlib.suppress(requests.exceptions.ConnectionError):
                if not self.client().sys.is_initialized():
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"vault did not answer within {START_TIMEOUT_S}s:\n{self.log_path.read_text()}"
                )
            time.sleep(0.2)
        keys = self.client().sys.initialize(secret_shares=1, secret_threshold=1)
        self.client().sys.submit_unseal_key(keys["keys"][0])
        token: str = keys["root_token"]
        while self.client().sys.is_sealed():
            time.sleep(0.2)
        return token

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_vault() -> Iterator[TlsVault]:
    if not VAULT_BIN.exists():
        pytest.fail("bin/vault is missing: run `make tools` (tools/build-go-tools.sh tools/vault)")
    server = TlsVault()
    try:
        yield server
    finally:
        server.stop()


def _mount(tls_vault: TlsVault, path: str, ca_cert: str | None) -> dict[str, object]:
    props: dict[str, object] = {
        "vault_address": tls_vault.address,
        "vault_token": tls_vault.root_token,
        "path": path,
        "type": "kv",
        "description": "written over TLS",
        "options": {"version": "2"},
    }
    if ca_cert is not None:
        props["vault_ca_cert"] = ca_cert
    return props


def test_the_program_writes_to_vault_over_tls_trusting_the_stacks_ca(tls_vault):
    SecretsMountProvider().create(_mount(tls_vault, "over-tls", tls_vault.issued.ca_cert))
    mounts = tls_vault.client().sys.list_mounted_secrets_engines()["data"]
    assert mounts["over-tls/"]["description"] == "written over TLS"


@pytest.mark.parametrize("trusted", ["system CAs", "another CA"])
def test_a_vault_the_program_cannot_verify_is_refused_with_what_to_do(tls_vault, trusted):
    ca_cert = None if trusted == "system CAs" else issue("elsewhere", ["localhost"]).ca_cert
    with pytest.raises(VaultRequestFailed) as refused:
        SecretsMountProvider().create(_mount(tls_vault, f"refused-{len(trusted)}", ca_cert))
    assert "did not prove who it is" in str(refused.value)
    assert "meridian:vaultCaCert" in str(refused.value)
    assert f"refused-{len(trusted)}/" not in tls_vault.client().sys.list_mounted_secrets_engines()["data"]
