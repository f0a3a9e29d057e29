"""Vault's TLS outside dev: a certificate authority of the stack's own and the server certificate it signs.

The keys are made by the `cryptography` library inside a Pulumi dynamic resource, so they live only
in the stack's encrypted state and in the Secrets that hand them to Vault; the offline render sees
placeholders. Clients verify Vault with the CA certificate: the program's hvac client, the Raft
peers joining each other, and every app's Vault Agent (through a Secret holding only ca.crt in the
app's namespace, named by the agent's `vault.hashicorp.com/tls-secret` annotation).

The server certificate is renewed by `pulumi up` once less than RENEW_BEFORE of its life is left;
the CA lives for CA_LIFETIME and is replaced (with every agent's copy) the same way.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from meridian_infra.objects import Manifest, manifest

SERVER_SECRET = "vault-server-tls"  # noqa: S105 - names, not secrets
CA_SECRET = "vault-ca"  # noqa: S105 - in each app namespace: ca.crt only
# Where the chart mounts the server Secret (server.volumes) and the injector mounts CA_SECRET.
SERVER_TLS_DIR = f"/vault/userconfig/{SERVER_SECRET}"
AGENT_TLS_DIR = "/vault/tls"

CA_LIFETIME = dt.timedelta(days=5 * 365)
SERVER_LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)

CA_CERT, SERVER_CERT, SERVER_KEY, NOT_AFTER = (
    "tls_ca_cert",
    "tls_server_cert",
    "tls_server_key",
    "tls_not_after",
)
_SECRET_OUTPUTS = [SERVER_KEY]
TLS_EXEMPTION = (
    "expires=2027-06-30; reason=issued at deploy time by the stack's own CA (vault_tls.py) and kept in its "
    "encrypted state; the render holds a placeholder, never a key"
)


def server_names(namespace: str, replicas: int) -> list[str]:
    """Every name a client or peer dials Vault by: the Services, each Raft peer's stable name, and
    loopback for a port-forward (`kubectl -n vault port-forward svc/vault 8200`)."""
    services = ["vault", "vault-active", "vault-standby", "vault-internal"]
    names = [f"{svc}.{namespace}.svc" for svc in services]
    names += [f"{svc}.{namespace}" for svc in services] + services
    names += [f"vault-{i}.vault-internal" for i in range(replicas)]
    names += [f"vault-{i}.vault-internal.{namespace}.svc" for i in range(replicas)]
    return [*names, "localhost", "127.0.0.1", "::1"]


@dataclass(frozen=True)
class Issued:
    ca_cert: str
    server_cert: str
    server_key: str
    not_after: dt.datetime  # the server certificate's

    def outputs(self) -> dict[str, Any]:
        return {
            CA_CERT: self.ca_cert,
            SERVER_CERT: self.server_cert,
            SERVER_KEY: self.server_key,
            NOT_AFTER: self.not_after.isoformat(),
        }


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def issue(common_name: str, names: Sequence[str], now: dt.datetime | None = None) -> Issued:
    """A fresh CA and a server certificate for `names`, signed by it (ECDSA P-256)."""
    now = now or dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = now + SERVER_LIFETIME
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # Raft peers present this certificate to each other, so it serves as client and server.
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return Issued(_pem(ca_cert), _pem(cert), key_pem, not_after)


def due_for_renewal(not_after: str, now: dt.datetime | None = None) -> bool:
    now = now or dt.datetime.now(dt.UTC)
    try:
        ends = dt.datetime.fromisoformat(not_after)
    except (TypeError, ValueError):
        return True
    return ends - now < RENEW_BEFORE


class CertificatesProvider(pulumi.dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        issued = issue(props["common_name"], props["names"])
        return pulumi.dynamic.CreateResult(id_=props["common_name"], outs={**props, **issued.outputs()})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        renamed = [key for key in ("common_name", "names") if olds.get(key) != news.get(key)]
        expiring = due_for_renewal(olds.get(NOT_AFTER, ""))
        replaces = renamed or ([NOT_AFTER] if expiring else [])
        return pulumi.dynamic.DiffResult(
            changes=bool(replaces), replaces=replaces, delete_before_replace=False
        )


class VaultCertificates(pulumi.dynamic.Resource, module="tls", name="VaultCertificates"):
    """The CA and Vault's server certificate: tls_ca_cert, tls_server_cert and (secret) tls_server_key."""

    tls_ca_cert: pulumi.Output[str]
    tls_server_cert: pulumi.Output[str]
    tls_server_key: pulumi.Output[str]

    def __init__(self, name: str, names: Sequence[str], opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            "common_name": "vault.meridian",
            "names": list(names),
            CA_CERT: None,
            SERVER_CERT: None,
            SERVER_KEY: None,
            NOT_AFTER: None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=_SECRET_OUTPUTS)
        super().__init__(CertificatesProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))


def server_secret(namespace: str, certs: VaultCertificates) -> Manifest:
    return manifest(
        "v1",
        "Secret",
        SERVER_SECRET,
        namespace,
        annotations={"exemption.meridian.dev/MER-SEC-001": TLS_EXEMPTION},
        type="kubernetes.io/tls",
        string_data={
            "tls.crt": certs.tls_server_cert,
            "tls.key": certs.tls_server_key,
            "ca.crt": certs.tls_ca_cert,
        },
    )


def ca_secret(namespace: str, certs: VaultCertificates) -> Manifest:
    """What an app's Vault Agent trusts; the CA certificate is public, the Secret is the injector's way in."""
    return manifest(
        "v1",
        "Secret",
        CA_SECRET,
        namespace,
        annotations={"exemption.meridian.dev/MER-SEC-001": TLS_EXEMPTION},
        type="Opaque",
        string_data={"ca.crt": certs.tls_ca_cert},
    )
