"""A real validating admission webhook on 127.0.0.1, served over TLS with a test CA, for tests that
register it through a Service and let the egress proxy forward the API server to it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Decides on one AdmissionReview request: None admits, a string denies with that message.
Judge = Callable[[dict[str, Any]], str | None]


@dataclass
class LoopbackWebhook:
    port: int
    ca_pem: bytes
    reviews: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca_pem).decode("ascii")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


def issue_serving_pair(folder: Path, dns_name: str) -> tuple[bytes, Path, Path]:
    """A throw-away CA and a serving certificate for `dns_name`; returns the CA PEM and the pair's paths."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "egress-test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "webhook.crt", folder / "webhook.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca.public_bytes(serialization.Encoding.PEM), cert_path, key_path


@contextmanager
def running_webhook(folder: Path, dns_name: str, judge: Judge) -> Iterator[LoopbackWebhook]:
    ca_pem, cert_path, key_path = issue_serving_pair(folder, dns_name)
    reviews: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            request = review["request"]
            reviews.append(request)
            message = judge(request)
            response: dict[str, Any] = {"uid": request["uid"], "allowed": message is None}
            if message is not None:
                response["status"] = {"code": 403, "message": message}
            body = json.dumps(
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="loopback-webhook", daemon=True)
    thread.start()
    try:
        yield LoopbackWebhook(server.server_address[1], ca_pem, reviews)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
