"""X.509 certificates Meridian issues itself: a certificate authority and the leaves it signs.

One profile for both issuers, the local control plane's PKI (cluster/pki.py) and the CAs the stack
keeps for in-cluster TLS (meridian_infra.tls): ECDSA P-256 keys, SHA-256 signatures, a CA that signs
leaves only, leaves that name their issuer's key. Built with the `cryptography` library.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

TlsKey = ec.EllipticCurvePrivateKey

# Certificates start an hour in the past: a clock that is slightly behind must still accept them.
BACKDATE = dt.timedelta(hours=1)


def issue_ca(common_name: str, now: dt.datetime, lifetime: dt.timedelta) -> tuple[x509.Certificate, TlsKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _dated(x509.CertificateBuilder(), now, lifetime)
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        # path_length 0: the CA signs leaves, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue_leaf(
    ca_cert: x509.Certificate,
    ca_key: TlsKey,
    *,
    common_name: str,
    usages: Sequence[ObjectIdentifier],
    now: dt.datetime,
    lifetime: dt.timedelta,
    organization: str | None = None,
    names: Sequence[str] = (),
) -> tuple[x509.Certificate, TlsKey]:
    """A leaf for `common_name` (and `organization`, which Kubernetes reads as the group), answering
    to `names` (DNS names or IP addresses) and good for the extended `usages`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)] if organization else []
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = (
        _dated(x509.CertificateBuilder(), now, lifetime)
        .subject_name(x509.Name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_name(n) for n in names]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def private_pem(key: TlsKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _dated(
    builder: x509.CertificateBuilder, now: dt.datetime, lifetime: dt.timedelta
) -> x509.CertificateBuilder:
    return (
        builder.serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
    )


def _name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not cert_sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
