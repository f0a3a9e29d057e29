"""Which state backends the stack-lock check and `meridian recover` can read, and the clear refusal
on the others: a lock in an object store is invisible from here, so meridian must not act as if
there were none."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from meridian_core.errors import InputError
from meridian_core.layout import Repo
from meridian_infra.chart_sources import MIRROR_ENV

from meridian.engine import Stack, file_backend_dir, recover, stack_locks


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///srv/pulumi", Path("/srv/pulumi")),
        ("file:///srv/pulumi?no_tmp_dir=true", Path("/srv/pulumi")),
        ("file://~/state", Path.home() / "state"),
        ("file://~", Path.home()),
        ("s3://meridian-state/prod", None),
        ("gs://meridian-state", None),
        ("azblob://meridian-state", None),
        ("https://api.pulumi.com", None),
    ],
)
def test_the_folder_of_a_file_backend_is_read_from_its_url(url, expected):
    assert file_backend_dir(url) == expected


@pytest.mark.parametrize(
    "url", ["s3://meridian-state/prod", "gs://meridian-state", "azblob://meridian-state"]
)
def test_lock_check_and_recover_refuse_object_store_backends(repo_root, monkeypatch, url):
    monkeypatch.setenv("PULUMI_BACKEND_URL", url)
    stack = Stack(Repo(repo_root), "staging")
    scheme = url.split("://", 1)[0]
    for action in (lambda: stack_locks(stack), lambda: recover(stack)):
        with pytest.raises(InputError) as refused:
            action()
        assert f"stack staging is on {scheme}://" in refused.value.message
        assert "pulumi cancel --stack staging --yes" in (refused.value.hint or "")


def test_recover_on_an_object_store_backend_exits_2_saying_what_to_do(run_meridian, repo_root):
    result = run_meridian("recover", "staging", env={"PULUMI_BACKEND_URL": "s3://meridian-state/staging"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "meridian recover reads the stack's lock files" in result.stderr
    assert "s3://" in result.stderr
    assert "pulumi refresh --stack staging --yes --clear-pending-creates" in result.stderr
    assert "Traceback" not in result.stderr


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_a_lock_in_a_file_backend_named_by_url_is_found(run_meridian, repo_root, tmp_path):
    # The state lives where PULUMI_BACKEND_URL says, not in .meridian/state.
    locks = tmp_path / ".pulumi" / "locks" / "organization" / "meridian" / "dev"
    locks.mkdir(parents=True)
    lock = {
        "pid": _dead_pid(),
        "hostname": socket.gethostname(),
        "username": "ops",
        "timestamp": "2026-12-02T10:00:00Z",
    }
    (locks / "a1b2.json").write_text(json.dumps(lock))
    env = {"PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_CONFIG_PASSPHRASE": "unused"}

    result = run_meridian("preview", "dev", env=env)

    assert result.returncode == 3, result.stdout + result.stderr
    assert f"locked by an update that died (pid {lock['pid']}" in result.stderr
    assert "meridian recover dev" in result.stderr


def test_a_relative_chart_mirror_reaches_the_program_as_the_folder_the_user_meant(
    repo_root, monkeypatch, tmp_path
):
    # The engine starts the program in infra/: relative to there, the folder would be another one.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(MIRROR_ENV, "mirror")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", secrets.token_urlsafe(12))
    assert Stack(Repo(repo_root), "dev").environment()[MIRROR_ENV] == str(tmp_path / "mirror")
    monkeypatch.setenv(MIRROR_ENV, "oci://127.0.0.1:5000/charts")
    assert Stack(Repo(repo_root), "dev").environment()[MIRROR_ENV] == "oci://127.0.0.1:5000/charts"
