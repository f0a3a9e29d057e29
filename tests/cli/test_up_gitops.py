"""`meridian up ENV --gitops` and `GITOPS=1 make up`: the local control plane, then `pulumi up` with
the program's Argo CD pointed at the loop's git server, then the GitOps loop.

In process, with a stand-in `pulumi` (MERIDIAN_TOOL_PULUMI, a script that records how it was run)
and the two cluster steps recorded instead of started: what is checked is the order of the steps
and what the program is given. The loop itself runs for real in tests/gitops/.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from meridian.cluster import LocalCluster
from meridian.cluster.gitops_components import GitOpsLayout, GitOpsPorts, GitOpsSettings
from meridian.cluster.layout import ClusterDir

REPO_URL_ENV = "MERIDIAN_ARGOCD_REPO_URL"
PORT_BASE = 40000
LOOP_URL = f"git://127.0.0.1:{GitOpsPorts.from_base(PORT_BASE).git}/meridian.git"
PULUMI = """\
#!/usr/bin/env python3
import json, os, sys
step = {"step": "pulumi " + sys.argv[1], "repo_url": os.environ.get("REPO_URL_ENV")}
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps(step) + "\\n")
""".replace("REPO_URL_ENV", REPO_URL_ENV)


@pytest.fixture
def steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The log every step writes one JSON line to, in the order the steps ran."""
    log = tmp_path / "steps.jsonl"
    pulumi = tmp_path / "pulumi"
    pulumi.write_text(PULUMI)
    pulumi.chmod(0o755)
    for name, value in {
        "FAKE_PULUMI_LOG": str(log),
        "MERIDIAN_TOOL_PULUMI": str(pulumi),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": "test-only",
        "MERIDIAN_CLUSTER_DIR": str(tmp_path / "cluster"),
        "MERIDIAN_CLUSTER_PORT_BASE": str(PORT_BASE),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(REPO_URL_ENV, raising=False)

    def record(step: str) -> None:
        with log.open("a") as handle:
            handle.write(json.dumps({"step": step, "repo_url": os.environ.get(REPO_URL_ENV)}) + "\n")

    def control_plane_up(self: LocalCluster, say: object, *, gitops: bool = False) -> bool:
        record(f"control plane up (gitops={gitops})")
        return False

    def start_gitops(self: LocalCluster, say: object, env: str) -> bool:
        record(f"GitOps loop for {env}")
        return False

    monkeypatch.setattr(LocalCluster, "up", control_plane_up)
    monkeypatch.setattr(LocalCluster, "start_gitops", start_gitops)
    # dev's `cluster.type: auto` is the local control plane where no container engine answers.
    monkeypatch.setattr("meridian_infra.kind.container_runtime_available", lambda: False)
    return log


def _steps(log: Path) -> list[tuple[str, str | None]]:
    if not log.exists():
        return []
    return [(e["step"], e["repo_url"]) for e in map(json.loads, log.read_text().splitlines())]


def test_up_dev_gitops_runs_pulumi_pointed_at_the_loop_between_the_control_plane_and_the_loop(
    meridian_cli, steps
):
    result = meridian_cli("up", "dev", "--gitops")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _steps(steps) == [
        ("pulumi stack", None),  # select: the override is only for the update
        ("control plane up (gitops=False)", None),
        ("pulumi up", LOOP_URL),
        ("GitOps loop for dev", None),
    ]
    assert f"GitOps: Argo CD reads {LOOP_URL}" in result.stdout
    assert "git push " in result.stdout and "meridian.git HEAD:main" in result.stdout
    assert REPO_URL_ENV not in os.environ


def test_plain_up_while_the_loop_runs_keeps_argo_cd_on_the_loop(meridian_cli, steps, tmp_path):
    # A loop started earlier on other ports: its recorded settings, not the environment, count.
    recorded = GitOpsSettings(GitOpsPorts.from_base(PORT_BASE + 13), 30)
    layout = GitOpsLayout(ClusterDir(tmp_path / "cluster"))
    layout.root.mkdir(parents=True)
    layout.settings_file.write_text(recorded.to_json())
    result = meridian_cli("up", "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _steps(steps) == [
        ("pulumi stack", None),
        ("control plane up (gitops=False)", None),
        ("pulumi up", recorded.ports.repo_url),
    ]
    assert recorded.ports.repo_url != LOOP_URL
    assert "the local GitOps loop's git server" in result.stderr


def test_plain_up_without_the_loop_leaves_the_spec_repository(meridian_cli, steps):
    result = meridian_cli("up", "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("pulumi up", None) in _steps(steps)
    assert not any(step.startswith("GitOps loop") for step, _ in _steps(steps))


def test_preview_while_the_loop_runs_compares_with_the_loop_repository(meridian_cli, steps, tmp_path):
    layout = GitOpsLayout(ClusterDir(tmp_path / "cluster"))
    layout.root.mkdir(parents=True)
    layout.settings_file.write_text(GitOpsSettings(GitOpsPorts.from_base(PORT_BASE), 30).to_json())
    result = meridian_cli("preview", "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("pulumi preview", LOOP_URL) in _steps(steps)


@pytest.mark.parametrize(
    ("env", "container_engine"),
    [("staging", False), ("prod", False), ("dev", True)],
)
def test_up_gitops_is_refused_where_the_environment_is_not_on_the_local_control_plane(
    meridian_cli, steps, monkeypatch, env, container_engine
):
    monkeypatch.setattr("meridian_infra.kind.container_runtime_available", lambda: container_engine)
    result = meridian_cli("up", env, "--gitops")
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"--gitops runs the GitOps loop beside the local control plane, and {env} does not run on it"
        in result.stderr
    )
    assert _steps(steps) == []  # refused before any step


def test_make_up_with_gitops_installs_the_loops_groups_and_passes_gitops(repo_root):
    def dry_run(*assignments: str) -> list[str]:
        proc = subprocess.run(
            ["make", "-n", "up", *assignments],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return [line for line in proc.stdout.splitlines() if " meridian " in line]

    install, up = dry_run("GITOPS=1")
    assert install.split()[-6:] == ["--for", "up", "--group", "argocd", "--group", "apt"]
    assert up.endswith("meridian up dev --gitops")
    for off in ((), ("GITOPS=",), ("GITOPS=0",)):
        install, up = dry_run(*off)
        assert "argocd" not in install and not up.rstrip().endswith("--gitops"), off
