"""Open the pull request of a pushed promotion branch through the GitHub REST API (httpx).

    GITHUB_TOKEN (or GH_TOKEN)        the token; never printed
    MERIDIAN_GITHUB_API_URL           base URL; else GITHUB_API_URL (set by Actions, GHES too);
                                      else https://api.github.com
    MERIDIAN_GITHUB_REPOSITORY        owner/name; else GITHUB_REPOSITORY; else the origin remote's URL

Opening is idempotent: when the branch already has an open pull request, that one is returned.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import httpx
from meridian_core.errors import InputError, RefusedError

DEFAULT_API = "https://api.github.com"
_SLUG = re.compile(r"github\.com[:/](?P<slug>[^/\s]+/[^/\s]+?)(?:\.git)?/?$")
_TIMEOUT = 30.0


@dataclass(frozen=True)
class Settings:
    api_url: str
    token: str
    repository: str  # owner/name

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    created: bool  # False: it was already open


def settings(remote_url: str | None) -> Settings:
    """Settings from the environment, checked before anything is pushed."""
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or ""
    if not token:
        raise InputError(
            "--push opens a pull request and needs a GitHub token",
            hint="set GITHUB_TOKEN (or GH_TOKEN) to a token that may push and open pull requests",
        )
    api = os.environ.get("MERIDIAN_GITHUB_API_URL") or os.environ.get("GITHUB_API_URL") or DEFAULT_API
    repository = os.environ.get("MERIDIAN_GITHUB_REPOSITORY") or os.environ.get("GITHUB_REPOSITORY") or ""
    if not repository and remote_url:
        match = _SLUG.search(remote_url)
        repository = match.group("slug") if match else ""
    if not re.fullmatch(r"[^/\s]+/[^/\s]+", repository):
        raise InputError(
            "cannot tell which GitHub repository to open the pull request in",
            hint="set MERIDIAN_GITHUB_REPOSITORY=owner/name (origin is not a github.com URL)",
        )
    return Settings(api.rstrip("/"), token, repository)


class GitHub:
    def __init__(self, config: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._client = httpx.Client(
            base_url=config.api_url,
            transport=transport,
            timeout=_TIMEOUT,
            headers={
                "Authorization": f"Bearer {config.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "meridian-promote",
            },
        )

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    def open_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        path = f"/repos/{self.config.repository}/pulls"
        response = self._request(
            "POST", path, json={"title": title, "head": head, "base": base, "body": body}
        )
        if response.status_code == 201:
            data = response.json()
            return PullRequest(int(data["number"]), str(data["html_url"]), created=True)
        if response.status_code == 422 and "already exists" in response.text:
            found = self._request(
                "GET", path, params={"head": f"{self.config.owner}:{head}", "base": base, "state": "open"}
            )
            pulls: list[dict[str, Any]] = found.json() if found.status_code == 200 else []
            if pulls:
                return PullRequest(int(pulls[0]["number"]), str(pulls[0]["html_url"]), created=False)
        raise RefusedError(
            f"GitHub refused to open the pull request ({response.status_code}): {_message(response)}",
            hint=f"the branch {head} is pushed; open the pull request by hand, or fix the token and re-run",
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RefusedError(
                f"cannot reach the GitHub API at {self.config.api_url}: {exc}",
                hint="check MERIDIAN_GITHUB_API_URL and the network; the branch is already pushed",
            ) from None


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(data, dict):
        return str(data)[:300]
    errors = "; ".join(str(e.get("message", e)) for e in data.get("errors", []) if isinstance(e, dict))
    return " ".join(part for part in (str(data.get("message", "")), errors) if part)[:300]
