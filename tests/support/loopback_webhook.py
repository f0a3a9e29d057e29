"""A real validating admission webhook on 127.0.0.1, served over TLS with a certificate from the
local cluster's CA, for tests that register it through a Service and let the egress proxy forward
the API server to it."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from meridian.cluster.pki import issue_service_certificate

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


@contextmanager
def running_webhook(
    cluster_pki: Path, folder: Path, service: str, namespace: str, judge: Judge
) -> Iterator[LoopbackWebhook]:
    cert_path, key_path = issue_service_certificate(cluster_pki, folder, service, namespace)
    ca_pem = (cluster_pki / "ca.crt").read_bytes()
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
