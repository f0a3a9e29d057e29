"""The local cluster's certificates: one CA, the API server's serving certificate, a client
certificate per identity, and the service-account signing key pair.

ECDSA P-256 for TLS (small, fast), RSA-2048 for service-account tokens (RS256 is what every
Kubernetes client expects). Files are re-issued only when missing, no longer signed by the CA on
disk, close to expiry, or (for the API server) missing a name it must answer to.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from meridian_core import certificates
from meridian_core.certificates import TlsKey

CA_NAME = "meridian-local-ca"
CA_DAYS = 3650
LEAF_DAYS = 365
# Re-issue a leaf this long before it expires, so a cluster started today keeps working for weeks.
RENEW_BEFORE = dt.timedelta(days=30)

_API_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Leaf:
    name: str  # file stem: NAME.crt / NAME.key
    common_name: str
    organization: str | None
    server: bool
    dns: tuple[str, ...] = ()
    ips: tuple[IpAddress, ...] = ()


def leaves(service_ip: IpAddress) -> tuple[Leaf, ...]:
    """Every certificate the CA signs; the service IP is the first address of the service subnet."""
    loopback = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
    return (
        Leaf("apiserver", "kube-apiserver", None, server=True, dns=_API_DNS, ips=(*loopback, service_ip)),
        # system:masters is bound to cluster-admin: kubectl, kwok and `meridian` act as this user.
        Leaf("admin", "meridian-admin", "system:masters", server=False),
        # The names the built-in RBAC roles of these two components are bound to.
        Leaf("controller-manager", "system:kube-controller-manager", None, server=False),
        Leaf("scheduler", "system:kube-scheduler", None, server=False),
    )


def ensure_pki(directory: Path, service_ip: IpAddress) -> list[str]:
    """Create or renew what is missing or stale; return the names of the files (re)issued."""
    directory.mkdir(parents=True, exist_ok=True)
    issued: list[str] = []
    now = dt.datetime.now(dt.UTC)
    ca_cert, ca_key = _load_pair(directory, "ca")
    if ca_cert is None or ca_key is None or _expiring(ca_cert, now):
        ca_cert, ca_key = _issue_ca(now)
        _write_pair(directory, "ca", ca_cert, ca_key)
        issued.append("ca")
    for leaf in leaves(service_ip):
        cert, key = _load_pair(directory, leaf.name)
        if cert is None or key is None or _stale(cert, ca_cert, leaf, now):
            cert, key = _issue_leaf(leaf, ca_cert, ca_key, now)
            _write_pair(directory, leaf.name, cert, key)
            issued.append(leaf.name)
    if not (directory / "sa.key").is_file() or not (directory / "sa.pub").is_file():
        _write_service_account_keys(directory)
        issued.append("sa")
    return issued


def _issue_ca(now: dt.datetime) -> tuple[x509.Certificate, TlsKey]:
    return certificates.issue_ca(CA_NAME, now, dt.timedelta(days=CA_DAYS))


def _issue_leaf(
    leaf: Leaf, ca_cert: x509.Certificate, ca_key: TlsKey, now: dt.datetime
) -> tuple[x509.Certificate, TlsKey]:
    return certificates.issue_leaf(
        ca_cert,
        ca_key,
        common_name=leaf.common_name,
        organization=leaf.organization,
        usages=[ExtendedKeyUsageOID.SERVER_AUTH if leaf.server else ExtendedKeyUsageOID.CLIENT_AUTH],
        now=now,
        lifetime=dt.timedelta(days=LEAF_DAYS),
        names=[*leaf.dns, *(str(ip) for ip in leaf.ips)],
    )


def _stale(cert: x509.Certificate, ca_cert: x509.Certificate, leaf: Leaf, now: dt.datetime) -> bool:
    if _expiring(cert, now):
        return True
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return True  # signed by an earlier CA: clients trusting today's CA would refuse it
    if not leaf.server:
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    return set(san.get_values_for_type(x509.DNSName)) != set(leaf.dns) or set(
        san.get_values_for_type(x509.IPAddress)
    ) != set(leaf.ips)


def _expiring(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_after_utc - now < RENEW_BEFORE


def _load_pair(directory: Path, stem: str) -> tuple[x509.Certificate | None, TlsKey | None]:
    try:
        cert = x509.load_pem_x509_certificate((directory / f"{stem}.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / f"{stem}.key").read_bytes(), password=None)
    except (OSError, ValueError):
        return None, None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None, None
    return cert, key


def _write_pair(directory: Path, stem: str, cert: x509.Certificate, key: TlsKey) -> None:
    _write_secret(directory / f"{stem}.key", certificates.private_pem(key))
    (directory / f"{stem}.crt").write_bytes(certificates.certificate_pem(cert))


def _write_service_account_keys(directory: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_secret(directory / "sa.key", certificates.private_pem(key))
    (directory / "sa.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _write_secret(path: Path, data: bytes) -> None:
    """Private keys are readable by their owner only, from the moment the file exists."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def issue_service_certificate(
    directory: Path, out_dir: Path, service: str, namespace: str
) -> tuple[Path, Path]:
    """A serving certificate for `SERVICE.NAMESPACE.svc`, signed by the cluster's CA in `directory`:
    what a webhook that runs on loopback behind a forwarded Service presents to the API server
    (its configuration's caBundle is then the cluster's ca.crt). Returns the certificate and key."""
    ca_cert, ca_key = _load_pair(directory, "ca")
    if ca_cert is None or ca_key is None:
        raise FileNotFoundError(f"no usable CA in {directory}: start the local cluster first")
    name = f"{service}.{namespace}.svc"
    leaf = Leaf(name, name, None, server=True, dns=(name, f"{name}.cluster.local"))
    cert, key = _issue_leaf(leaf, ca_cert, ca_key, dt.datetime.now(dt.UTC))
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_pair(out_dir, name, cert, key)
    return out_dir / f"{name}.crt", out_dir / f"{name}.key"
