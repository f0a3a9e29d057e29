"""A small client for the local API server: httpx over the admin client certificate.

Only what the manager and `meridian validate` need: GET, create, server-side apply and delete,
with Kubernetes `Status` errors turned into one readable sentence and the server's warnings kept.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from meridian_core.errors import RefusedError

FIELD_MANAGER = "meridian"
_APPLY = "application/apply-patch+yaml"


class ApiError(Exception):
    """The API server answered with an error `Status` (or did not answer at all: status 0)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Reply:
    body: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class KubeApi:
    def __init__(self, server: str, pki: Path, *, identity: str = "admin", timeout_s: float = 30) -> None:
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / f"{identity}.crt"), str(pki / f"{identity}.key"))
        self._client = httpx.Client(base_url=server, verify=context, timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KubeApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return self._send("GET", path, params=params).body

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def create(self, collection: str, obj: dict[str, Any], *, dry_run: bool = False) -> Reply:
        params = {"fieldManager": FIELD_MANAGER, **({"dryRun": "All"} if dry_run else {})}
        return self._send("POST", collection, params=params, content=json.dumps(obj), content_type=None)

    def apply(
        self, path: str, obj: dict[str, Any], *, dry_run: bool = False, manager: str = FIELD_MANAGER
    ) -> Reply:
        """Server-side apply: creates or updates, so it works whether or not the object exists."""
        params = {"fieldManager": manager, "force": "true", **({"dryRun": "All"} if dry_run else {})}
        # JSON is YAML, and the apply content type takes either.
        return self._send("PATCH", path, params=params, content=json.dumps(obj), content_type=_APPLY)

    def apply_or_refuse(self, path: str, obj: dict[str, Any], *, manager: str, failure: str) -> None:
        """Apply an object the command cannot go on without: a refusal by the API server stops
        it, `failure` saying what failed."""
        try:
            self.apply(path, obj, manager=manager)
        except ApiError as exc:
            raise RefusedError(f"{failure}: {exc.message}") from None

    def delete(self, path: str) -> None:
        try:
            self._send("DELETE", path)
        except ApiError as exc:
            if exc.status != 404:
                raise

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        content: str | None = None,
        content_type: str | None = None,
    ) -> Reply:
        headers = {"Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = content_type or "application/json"
        try:
            response = self._client.request(method, path, params=params, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiError(0, "Unreachable", f"{method} {path}: {exc}") from None
        warnings = [_warning_text(w) for w in response.headers.get_list("warning")]
        body = _json(response)
        if response.is_success:
            return Reply(body, warnings)
        raise ApiError(
            response.status_code,
            str(body.get("reason") or response.reason_phrase),
            str(body.get("message") or response.text.strip() or response.reason_phrase),
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _warning_text(header: str) -> str:
    """`299 - "text"` (RFC 7234 warn-code, agent, quoted text) → text."""
    parts = header.split(" ", 2)
    text = parts[2] if len(parts) == 3 else header
    return text.strip().removeprefix('"').removesuffix('"').replace('\\"', '"')
