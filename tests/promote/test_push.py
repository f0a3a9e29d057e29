"""`--push`: the branch reaches origin (a bare repository) and the pull request is opened through
the GitHub API, here a local server that checks every request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from github_server import REPOSITORY, TOKEN, FakeGitHub, fake_github
from meridian_core.errors import RefusedError
from promote_world import FAST, NOW, World, synthetic_digest

from meridian.promote import github

BRANCH = "promote/orders/staging/1.1.0"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with fake_github() as server:
        monkeypatch.setenv("MERIDIAN_GITHUB_API_URL", server.url)
        monkeypatch.setenv("MERIDIAN_GITHUB_REPOSITORY", REPOSITORY)
        yield server


def test_push_opens_a_pull_request_with_the_diff_and_the_full_gate(world: World, api: FakeGitHub) -> None:
    # The default gate, checkov included (this checkout's workflows go through it too).
    result = world.cli("promote", "orders", "--to", "staging", "--push", env={"GITHUB_TOKEN": TOKEN})

    assert result.code == 0, result.output
    remote = world.git("ls-remote", "--heads", "origin", BRANCH)
    assert remote.split()[0] == world.branches()[BRANCH]
    [request] = api.created
    assert request.path == f"/repos/{REPOSITORY}/pulls"
    assert request.headers["Accept"] == "application/vnd.github+json"
    body = request.body or {}
    assert (body["title"], body["head"], body["base"]) == ("promote orders 1.1.0 to staging", BRANCH, "main")
    text = body["body"]
    assert "| orders | dev (since 2026-06-01T10:00:00Z) | 1.0.0 | **1.1.0** |" in text
    assert "```diff\n--- a/build/staging/apps/orders.yaml\n+++ b/build/staging/apps/orders.yaml" in text
    assert (
        f"+        image: ghcr.io/meridian-platform/orders:1.1.0@{synthetic_digest('orders', '1.1.0')}"
        in text
    )
    assert "**Policy gate** (conftest, checkov, secrets): staging: passed" in text
    assert world.trailers(BRANCH)["Meridian-Gate"] == "conftest,checkov,secrets"
    assert f"pull request #1 opened: https://github.test/{REPOSITORY}/pull/1" in result.stdout


def test_a_rerun_with_push_finds_the_open_pull_request(world: World, api: FakeGitHub) -> None:
    token = {"GITHUB_TOKEN": TOKEN}
    assert world.cli("promote", "orders", "--to", "staging", "--push", *FAST, env=token).code == 0
    after_first = world.state()

    again = world.cli("promote", "orders", "--to", "staging", "--push", *FAST, env=token)

    assert again.code == 0, again.output
    assert "already waits on promote/orders/staging/1.1.0" in again.stdout
    assert "pull request #1 already open" in again.stdout
    assert [r.method for r in api.requests] == ["POST", "POST", "GET"]
    assert api.requests[-1].query["head"] == [f"acme:{BRANCH}"]
    assert world.state() == after_first


def test_push_without_a_token_is_refused_before_anything_changes(world: World, api: FakeGitHub) -> None:
    before = world.state()

    result = world.cli("promote", "orders", "--to", "staging", "--push", *FAST)

    assert result.code == 2
    assert "--push opens a pull request and needs a GitHub token" in result.stderr
    assert world.state() == before
    assert api.requests == []


def test_a_rejected_token_is_reported_with_what_to_do(world: World, api: FakeGitHub) -> None:
    result = world.cli("promote", "orders", "--to", "staging", "--push", *FAST, env={"GITHUB_TOKEN": "wrong"})

    assert result.code == 1
    assert "GitHub refused to open the pull request (401): Bad credentials" in result.stderr
    assert f"the branch {BRANCH} is pushed" in result.stderr
    assert "wrong" not in result.output  # the token is never printed


def test_superseding_with_push_deletes_the_old_remote_branch(world: World, api: FakeGitHub) -> None:
    token = {"GITHUB_TOKEN": TOKEN}
    assert world.cli("promote", "orders", "--to", "staging", "--push", *FAST, env=token).code == 0
    world.set_version("dev", "orders", "1.2.0", when=NOW - timedelta(hours=5))

    result = world.cli("promote", "orders", "--to", "staging", "--push", "--supersede", *FAST, env=token)

    assert result.code == 0, result.output
    heads = world.git("ls-remote", "--heads", "origin")
    assert "promote/orders/staging/1.2.0" in heads
    assert BRANCH not in heads
    assert f"superseded origin/{BRANCH}" in result.stdout


def test_the_client_reads_its_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "t")
    for name in (
        "GITHUB_TOKEN",
        "MERIDIAN_GITHUB_REPOSITORY",
        "GITHUB_REPOSITORY",
        "MERIDIAN_GITHUB_API_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example.com/api/v3/")

    found = github.settings("git@github.com:meridian-platform/meridian.git")

    assert (found.api_url, found.repository, found.token) == (
        "https://ghe.example.com/api/v3",
        "meridian-platform/meridian",
        "t",
    )
    assert github.settings("https://github.com/a/b").repository == "a/b"


def test_an_unreachable_api_is_a_refusal_not_a_traceback() -> None:
    client = github.GitHub(github.Settings("http://127.0.0.1:9", TOKEN, REPOSITORY))
    with (
        pytest.raises(RefusedError, match=re.escape("cannot reach the GitHub API at http://127.0.0.1:9")),
        client,
    ):
        client.open_pull_request(head="h", base="main", title="t", body="b")
