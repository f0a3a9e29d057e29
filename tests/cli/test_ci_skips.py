"""With CI set, a test that skips for a missing tool fails the run and names what was missing;
without it, the skip stays a skip and the run ends with one line saying what was missing.

Each case runs pytest in a separate process on a scratch suite that uses this repository's
tests/conftest.py, so the hook under test is the one every suite here runs under.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.postgres import find_bin

SUITE = """
import pytest

def test_needs_a_server():
    pytest.skip("frobd is not installed (make tools installs it)")

@pytest.mark.skipif(True, reason="bin/widget is not built")
def test_needs_a_tool():
    pass

def test_runs():
    assert True
"""
PASSING = "def test_runs():\n    assert True\n"
# Skips while collecting: each drops a whole module, with no test report of its own.
MODULE_SKIPS = {
    "test_module_skip.py": (
        'import pytest\n\npytest.skip("bin/gizmo is not built", allow_module_level=True)\n\n\n'
        "def test_never_collected():\n    pass\n"
    ),
    "test_importorskip.py": (
        'import pytest\n\npytest.importorskip("meridian_absent_module")\n\n\n'
        "def test_never_collected():\n    pass\n"
    ),
}


def _run_suite(
    tmp_path: Path, repo_root: Path, ci: str | None, suite: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    shutil.copy(repo_root / "tests" / "conftest.py", tmp_path / "conftest.py")
    for name, text in (suite or {"test_scratch.py": SUITE}).items():
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_with_ci_set_a_skip_fails_the_run_naming_what_was_missing(tmp_path, repo_root):
    result = _run_suite(tmp_path, repo_root, ci="true")
    assert result.returncode == 1, result.stdout
    # A skip in a test's body fails it; one in its setup (a skipif mark, a fixture) is an error.
    assert "1 failed, 1 passed, 1 error" in result.stdout
    assert "skipped with CI set, where `make test` must have installed it: frobd is not installed" in (
        result.stdout
    )
    assert "bin/widget is not built" in result.stdout
    assert "missing tools or servers, failed: CI is set" in result.stdout


@pytest.mark.parametrize("ci", [None, "false"])
def test_without_ci_a_skip_is_a_skip_with_a_summary_line(tmp_path, repo_root, ci):
    result = _run_suite(tmp_path, repo_root, ci=ci)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 skipped" in result.stdout
    assert (
        "missing tools or servers, skipped locally; with CI set they fail: "
        "frobd is not installed (make tools installs it) (1 test); bin/widget is not built (1 test)"
    ) in result.stdout


def test_with_ci_set_a_module_skipped_while_collecting_is_an_error_naming_what_was_missing(
    tmp_path, repo_root
):
    result = _run_suite(tmp_path, repo_root, ci="true", suite={**MODULE_SKIPS, "test_runs.py": PASSING})
    # Collection errors stop the run before any test (pytest's exit code 2, "interrupted").
    assert result.returncode == 2, result.stdout
    assert "Interrupted: 2 errors during collection" in result.stdout, result.stdout
    assert (
        "test_module_skip.py: skipped as a whole with CI set, where `make test` must have installed "
        "what it needs: bin/gizmo is not built"
    ) in result.stdout
    assert "test_importorskip.py: skipped as a whole with CI set" in result.stdout
    assert "could not import 'meridian_absent_module'" in result.stdout
    summary = next(line for line in result.stdout.splitlines() if line.startswith("missing tools or servers"))
    assert summary.startswith("missing tools or servers, failed: CI is set: ")
    assert "bin/gizmo is not built (all of test_module_skip.py)" in summary
    assert "No module named 'meridian_absent_module' (all of test_importorskip.py)" in summary


def test_without_ci_a_module_skipped_while_collecting_is_a_skip_with_a_summary_line(tmp_path, repo_root):
    result = _run_suite(tmp_path, repo_root, ci=None, suite={**MODULE_SKIPS, "test_runs.py": PASSING})
    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 skipped" in result.stdout
    summary = next(line for line in result.stdout.splitlines() if line.startswith("missing tools or servers"))
    assert summary.startswith("missing tools or servers, skipped locally; with CI set they fail: ")
    assert "bin/gizmo is not built (all of test_module_skip.py)" in summary
    assert "(all of test_importorskip.py)" in summary


def test_the_newest_postgresql_folder_is_found_whatever_its_version(tmp_path):
    for major in ("9.6", "15", "16"):
        folder = tmp_path / major / "bin"
        folder.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl"):
            (folder / tool).write_text("")
    (tmp_path / "17" / "bin").mkdir(parents=True)  # no server binaries: not a candidate
    assert find_bin(tmp_path) == tmp_path / "16" / "bin"
