"""A local stand-in for the part of the GitHub REST API that `--push` uses, which checks what it
is sent: the token, the API version header, and a complete pull-request body."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "test-token"
REPOSITORY = "acme/meridian"
OWNER = "acme"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class FakeGitHub:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    pulls: dict[str, dict[str, Any]] = field(default_factory=dict)  # head branch -> pull request

    @property
    def created(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            """Quiet: the tests read `state.requests`."""

        def _reply(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Recorded | None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            recorded = Recorded(self.command, url.path, parse_qs(url.query), dict(self.headers), body)
            state.requests.append(recorded)
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"message": "Bad credentials"})
                return None
            if self.headers.get("X-GitHub-Api-Version") != "2022-11-28":
                self._reply(400, {"message": "missing API version"})
                return None
            if url.path != f"/repos/{REPOSITORY}/pulls":
                self._reply(404, {"message": "Not Found"})
                return None
            return recorded

        def do_POST(self) -> None:
            recorded = self._record()
            if recorded is None:
                return
            body = recorded.body or {}
            missing = [k for k in ("title", "head", "base", "body") if not body.get(k)]
            if missing:
                self._reply(
                    422, {"message": "Validation Failed", "errors": [{"message": f"missing {missing}"}]}
                )
                return
            head = body["head"]
            if head in state.pulls:
                message = f"A pull request already exists for {OWNER}:{head}."
                self._reply(422, {"message": "Validation Failed", "errors": [{"message": message}]})
                return
            number = len(state.pulls) + 1
            pull = {"number": number, "html_url": f"https://github.test/{REPOSITORY}/pull/{number}", **body}
            state.pulls[head] = pull
            self._reply(201, pull)

        def do_GET(self) -> None:
            recorded = self._record()
            if recorded is None:
                return
            owner, _, head = (recorded.query.get("head") or [""])[0].partition(":")
            found = [state.pulls[head]] if owner == OWNER and head in state.pulls else []
            self._reply(200, found)

    return Handler


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
