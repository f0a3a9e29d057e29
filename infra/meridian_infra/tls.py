"""Certificates the stack issues itself: a certificate authority of its own and one server
certificate it signs, for a component that serves TLS inside the cluster (Vault, the admission
webhook).

The keys are made by the `cryptography` library inside a Pulumi dynamic resource, so they live only
in the stack's encrypted state and in the Secrets that hand them to the component; the offline
render sees placeholders. Clients trust the CA certificate (a Secret's ca.crt, a webhook
configuration's caBundle).

The server certificate is renewed by `pulumi up` once less than RENEW_BEFORE of its life is left;
the CA lives for CA_LIFETIME and is replaced (with every copy clients hold) the same way.
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

CA_LIFETIME = dt.timedelta(days=5 * 365)
SERVER_LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)

CA_CERT, SERVER_CERT, SERVER_KEY, NOT_AFTER = (
    "tls_ca_cert",
    "tls_server_cert",
    "tls_server_key",
    "tls_not_after",
)
SECRET_OUTPUTS = [SERVER_KEY]


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
        # Vault's Raft peers present this certificate to each other, so it serves as client and server.
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


class StackCertificates(pulumi.dynamic.Resource):
    """A CA and a server certificate: tls_ca_cert, tls_server_cert and (secret) tls_server_key.

    Each component subclasses it with a type name of its own (`module="tls", name=...`), so the
    stack's state tells the components' certificates apart."""

    tls_ca_cert: pulumi.Output[str]
    tls_server_cert: pulumi.Output[str]
    tls_server_key: pulumi.Output[str]

    def __init__(
        self, name: str, common_name: str, names: Sequence[str], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "common_name": common_name,
            "names": list(names),
            CA_CERT: None,
            SERVER_CERT: None,
            SERVER_KEY: None,
            NOT_AFTER: None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS)
        super().__init__(CertificatesProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
