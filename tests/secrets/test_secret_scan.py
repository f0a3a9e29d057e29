"""`meridian secrets scan` on real git repositories in temporary folders, with real gitleaks.

Credentials of many kinds are seeded (generated fresh, see seeds.py) next to look-alikes that are
not secrets; every credential must be reported at its file and line, no look-alike may be, and
no secret value may appear in the output.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from collections import Counter
from pathlib import Path

import pytest
import seeds
from meridian_core.layout import Repo

from meridian.policy import secret_scan


def git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Meridian Test",
        "GIT_AUTHOR_EMAIL": "test@meridian.dev",
        "GIT_COMMITTER_NAME": "Meridian Test",
        "GIT_COMMITTER_EMAIL": "test@meridian.dev",
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
    }
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def plant(root: Path, items: list[seeds.Seed]) -> None:
    for seed in items:
        path = root / seed.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(seed.text)


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, list[seeds.Seed], list[seeds.Seed]]:
    root = tmp_path / "repo"
    root.mkdir()
    credentials, decoys = seeds.credentials(), seeds.decoys()
    plant(root, credentials + decoys)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "seeded")
    return root, credentials, decoys


def test_each_allowlist_is_declared_once(repo_root):
    # A second copy of an allowlist drifts from the first unseen: the stricter copy then tests nothing.
    config = tomllib.loads((repo_root / "policies" / "gitleaks.toml").read_text())
    allowlists = config.get("allowlists", [])
    descriptions = Counter(a.get("description") for a in allowlists)
    assert all(descriptions), "every [[allowlists]] entry needs a description"
    assert [d for d, n in descriptions.items() if n > 1] == []
    patterns = Counter(r for a in allowlists for r in a.get("regexes", []))
    assert [r for r, n in patterns.items() if n > 1] == []


@pytest.mark.parametrize("mode", ["tree", "history"])
def test_every_seeded_credential_is_found_and_no_decoy_is(repo_root, seeded, mode):
    # Tree and history scans read the same configuration: every rule and allowance holds in both.
    root, credentials, decoys = seeded
    scan = secret_scan.scan_tree if mode == "tree" else secret_scan.scan_history
    findings = scan(Repo(repo_root), root)
    by_file: dict[str, list[secret_scan.SecretFinding]] = {}
    for finding in findings:
        by_file.setdefault(finding.file, []).append(finding)
    for seed in credentials:
        found = by_file.get(seed.path, [])
        assert any(f.line == seed.line and (seed.rule is None or f.rule == seed.rule) for f in found), (
            f"{seed.kind} not reported at {seed.path}:{seed.line} (got {[(f.rule, f.line) for f in found]})"
        )
    for seed in decoys:
        assert seed.path not in by_file, (
            f"{seed.kind} reported: {[(f.rule, f.line) for f in by_file[seed.path]]}"
        )
    if mode == "tree":
        assert all(f.commit is None for f in findings)
    else:
        assert all(f.commit for f in findings)


def test_the_command_lists_file_line_and_rule_and_never_the_secret(run_meridian, seeded):
    root, credentials, _ = seeded
    result = run_meridian("secrets", "scan", str(root), "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert "secret(s) found" in result.stderr
    assert {(f["file"], f["line"]) for f in report["findings"]} >= {(s.path, s.line) for s in credentials}
    table = run_meridian("secrets", "scan", str(root))
    assert table.returncode == 1
    assert "secret(s) found" in table.stdout
    assert "aws-access-token" in table.stdout and "infra/aws.env" in table.stdout
    for output in (result.stdout + result.stderr, table.stdout + table.stderr):
        for seed in credentials:
            secret_line = seed.text.splitlines()[seed.line - 1]
            value = secret_line.split("=", 1)[-1].split(": ", 1)[-1].strip().strip('"')
            assert value not in output, f"{seed.kind} value printed"


def test_a_clean_tree_exits_0(run_meridian, tmp_path):
    plant(tmp_path, seeds.decoys())
    result = run_meridian("secrets", "scan", str(tmp_path))
    assert result.returncode == 0, result.stdout
    assert "no secrets found" in result.stdout


def test_history_finds_a_secret_removed_from_the_working_tree(run_meridian, tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    [github] = [s for s in seeds.credentials() if s.kind == "GitHub token"]
    plant(root, [github])
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "add a job")
    leaked = git(root, "rev-parse", "HEAD")
    (root / github.path).write_text("env: []\n")
    git(root, "commit", "-q", "-am", "remove the token")

    tree = run_meridian("secrets", "scan", str(root))
    assert tree.returncode == 0, tree.stdout
    history = run_meridian("secrets", "scan", str(root), "--history", "--format", "json")
    assert history.returncode == 1
    report = json.loads(history.stdout)
    [finding] = report["findings"]
    assert (finding["file"], finding["line"], finding["rule"]) == (github.path, github.line, "github-pat")
    assert leaked.startswith(finding["commit"])


def test_ignored_build_output_is_scanned(repo_root, tmp_path):
    # build/ is git-ignored; rendered manifests must be scanned all the same.
    root = tmp_path / "repo"
    (root / "build" / "dev" / "apps").mkdir(parents=True)
    (root / ".gitignore").write_text("/build/\n")
    git(root, "init", "-q")
    [slack] = [s for s in seeds.credentials() if s.kind == "Slack token"]
    (root / "build" / "dev" / "apps" / "alerts.yaml").write_text(slack.text)
    findings = secret_scan.scan_tree(Repo(repo_root), root)
    assert [(f.file, f.rule) for f in findings] == [("build/dev/apps/alerts.yaml", "slack-bot-token")]


def test_the_project_configuration_wins_over_one_in_the_scanned_folder(repo_root, tmp_path):
    # A .gitleaks.toml or a gitleaks:allow comment in the scanned tree must not silence the scan.
    [stripe] = [s for s in seeds.credentials() if s.kind == "Stripe key"]
    plant(tmp_path, [stripe])
    (tmp_path / ".gitleaks.toml").write_text('[allowlist]\npaths = [".*"]\n')
    path = tmp_path / stripe.path
    path.write_text(path.read_text().replace("\n", "  # gitleaks:allow\n"))
    findings = secret_scan.scan_tree(Repo(repo_root), tmp_path)
    assert [(f.file, f.rule) for f in findings] == [(stripe.path, "stripe-access-token")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("/nonexistent/meridian",), "/nonexistent/meridian: no such file or folder"),
        (("--history",), "not a git repository"),
    ],
)
def test_bad_input_exits_2(run_meridian, tmp_path, args, message):
    plain = tmp_path / "plain"
    plain.mkdir()
    full = args if args[0].startswith("/") else (str(plain), *args)
    result = run_meridian("secrets", "scan", *full)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_this_repository_and_its_history_are_clean(run_meridian, repo_root):
    result = run_meridian("secrets", "scan", "--history")
    assert result.returncode == 0, result.stdout
    assert f"no secrets found in {repo_root} (working tree and git history)" in result.stdout
