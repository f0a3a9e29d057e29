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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
from cryptography.x509.oid import ExtendedKeyUsageOID
from meridian_core import certificates

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


def issue(common_name: str, names: Sequence[str], now: dt.datetime | None = None) -> Issued:
    """A fresh CA and a server certificate for `names`, signed by it."""
    now = now or dt.datetime.now(dt.UTC)
    ca_cert, ca_key = certificates.issue_ca(f"{common_name} CA", now, CA_LIFETIME)
    cert, key = certificates.issue_leaf(
        ca_cert,
        ca_key,
        common_name=common_name,
        # Vault's Raft peers present this certificate to each other, so it serves as client and server.
        usages=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
        now=now,
        lifetime=SERVER_LIFETIME,
        names=names,
    )
    return Issued(
        certificates.certificate_pem(ca_cert).decode(),
        certificates.certificate_pem(cert).decode(),
        certificates.private_pem(key).decode(),
        cert.not_valid_after_utc,
    )


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
