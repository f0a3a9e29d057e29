"""Vault's TLS outside dev: a certificate authority of the stack's own and the server certificate it
signs (meridian_infra.tls issues both), and the Secrets that hand them to Vault and its clients.

Clients verify Vault with the CA certificate: the program's hvac client, the Raft peers joining
each other, and every app's Vault Agent (through a Secret holding only ca.crt in the app's
namespace, named by the agent's `vault.hashicorp.com/tls-secret` annotation).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from meridian_infra.objects import Manifest, manifest
from meridian_infra.tls import StackCertificates

SERVER_SECRET = "vault-server-tls"  # noqa: S105 - names, not secrets
CA_SECRET = "vault-ca"  # noqa: S105 - in each app namespace: ca.crt only
# Where the chart mounts the server Secret (server.volumes).
SERVER_TLS_DIR = f"/vault/userconfig/{SERVER_SECRET}"

TLS_EXEMPTION = (
    "expires=2027-06-30; reason=issued at deploy time by the stack's own CA (vault/certificates.py) and "
    "kept in its encrypted state; the render holds a placeholder, never a key"
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


class VaultCertificates(StackCertificates, module="tls", name="VaultCertificates"):
    """The CA and Vault's server certificate: tls_ca_cert, tls_server_cert and (secret) tls_server_key."""

    def __init__(self, name: str, names: Sequence[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, "vault.meridian", names, opts)


def _issued_secret(name: str, namespace: str, type_: str, data: dict[str, pulumi.Output[str]]) -> Manifest:
    """A Secret holding what the stack's CA issued, exempt from the secret rule as TLS_EXEMPTION says."""
    exemption = {"exemption.meridian.dev/MER-SEC-001": TLS_EXEMPTION}
    return manifest("v1", "Secret", name, namespace, annotations=exemption, type=type_, string_data=data)


def server_secret(namespace: str, certs: VaultCertificates) -> Manifest:
    keys = {"tls.crt": certs.tls_server_cert, "tls.key": certs.tls_server_key, "ca.crt": certs.tls_ca_cert}
    return _issued_secret(SERVER_SECRET, namespace, "kubernetes.io/tls", keys)


def ca_secret(namespace: str, certs: VaultCertificates) -> Manifest:
    """What an app's Vault Agent trusts; the CA certificate is public, the Secret is the injector's way in."""
    return _issued_secret(CA_SECRET, namespace, "Opaque", {"ca.crt": certs.tls_ca_cert})
