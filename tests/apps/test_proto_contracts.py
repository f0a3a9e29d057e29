"""The protobuf contracts: lint clean, generated code current, breaking changes caught."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROTO = REPO / "apps" / "proto"
BUF = REPO / "bin" / "buf"
GENERATED = ["apps/orders/gen", "apps/inventory/src/meridian_inventory/gen", "tests/support/gen"]

needs_buf = pytest.mark.skipif(
    not all((REPO / "bin" / tool).exists() for tool in ("buf", "protoc-gen-go", "protoc-gen-go-grpc")),
    reason="buf and the protoc-gen-go plugins are not built (bash tools/go/build.sh)",
)

pytestmark = [pytest.mark.slow, needs_buf]


def differences(left: Path, right: Path) -> list[str]:
    """Paths (relative to left) that differ, exist on one side only, recursively."""
    found: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(f"{prefix}{name} (only in one tree)" for name in cmp.left_only + cmp.right_only)
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        found.extend(f"{prefix}{name}" for name in mismatch + errors)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right, ignore=["__pycache__"]), "")
    return found


def test_buf_lint_is_clean() -> None:
    result = subprocess.run([str(BUF), "lint"], cwd=PROTO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_generated_code_is_current(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(PROTO / "generate.sh"), str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    stale = {path: differences(REPO / path, tmp_path / path) for path in GENERATED}
    stale = {path: diff for path, diff in stale.items() if diff}
    assert not stale, f"generated code is stale, run `make proto`: {stale}"


def git(repo: Path, *args: str) -> None:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.invalid",
    )
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def scratch_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A git repository whose main branch has one commit and no protos; returns (repo, its proto dir)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "README.md").write_text("scratch\n")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "start")
    proto = repo / "apps" / "proto"
    shutil.copytree(PROTO, proto, ignore=shutil.ignore_patterns("*.sh"))
    shutil.copy2(PROTO / "check-breaking.sh", proto / "check-breaking.sh")
    return repo, proto


def check_breaking(proto: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(proto / "check-breaking.sh")],
        env=dict(os.environ, BUF=str(BUF)),
        capture_output=True,
        text=True,
        check=False,
    )


def test_breaking_check_passes_when_main_has_no_protos(tmp_path: Path) -> None:
    _, proto = scratch_repo(tmp_path)
    result = check_breaking(proto)
    assert result.returncode == 0, result.stderr
    assert "no .proto files" in result.stdout


def test_breaking_check_accepts_additions_and_rejects_removals(tmp_path: Path) -> None:
    repo, proto = scratch_repo(tmp_path)
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "contracts")
    inventory = proto / "meridian" / "inventory" / "v1" / "inventory.proto"
    original = inventory.read_text()

    field = "  int64 reserved = 4;\n"
    inventory.write_text(original.replace(field, field + "  string aisle = 6;\n"))
    added = check_breaking(proto)
    assert added.returncode == 0, added.stdout + added.stderr

    inventory.write_text(original.replace(field, ""))
    removed = check_breaking(proto)
    assert removed.returncode != 0
    assert "reserved" in removed.stdout + removed.stderr
