"""`meridian dev rego-tests` (what `make test-policy` runs) on a small repository of its own: a policy
with two rules and a test of one, so the results and the coverage are known in advance."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from meridian_core.layout import Repo

from meridian import toolchain

POLICY = """\
package demo

deny contains "no pods" if {
	input.kind == "Pod"
}

warn contains "a job" if {
	input.kind == "Job"
}
"""

TEST = """\
package demo_test

import data.demo

test_a_pod_is_denied if {
	demo.deny["no pods"] with input as {"kind": "Pod"}
}
"""


@pytest.fixture
def policies(tmp_path: Path, repo_root: Path) -> dict[str, str]:
    """A checkout with the folders `opa test` is given; the environment `meridian` runs in there."""
    (tmp_path / "Pulumi.yaml").write_text("name: demo\n")
    for folder in ("policies/rego", "policies/admission", "tests/policies/rego", "tests/admission/rego"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "policies/rego/demo.rego").write_text(POLICY)
    (tmp_path / "tests/policies/rego/demo_test.rego").write_text(TEST)
    opa = toolchain.require_tool(Repo(repo_root), "opa")
    return {"MERIDIAN_ROOT": str(tmp_path), toolchain.override_var("opa"): opa}


def test_results_and_coverage_pass_a_threshold_they_reach(meridian_cli, policies):
    result = meridian_cli("dev", "rego-tests", "--threshold", "50", env=policies)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "    50.0%  policies/rego/demo.rego (lines not covered: 7, 8)"
    assert lines[1] == "Rego coverage: 50.0% of policy lines (threshold 50%)"
    assert lines[2] == "1 passed, 0 failed"


def test_coverage_under_the_threshold_fails(meridian_cli, policies):
    result = meridian_cli("dev", "rego-tests", "--threshold", "99", env=policies)
    assert result.returncode == 1
    assert "is under the threshold of 99%" in result.stderr


def test_a_failing_test_is_named_with_its_place_and_fails_the_run(meridian_cli, policies):
    tests = Path(policies["MERIDIAN_ROOT"]) / "tests/policies/rego/demo_test.rego"
    tests.write_text(
        tests.read_text()
        + textwrap.dedent("""
        test_a_job_is_denied if {
        \tdemo.deny["a job"] with input as {"kind": "Job"}
        }
    """)
    )
    result = meridian_cli("dev", "rego-tests", "--threshold", "0", env=policies)
    assert result.returncode == 1
    assert f"FAIL data.demo_test.test_a_job_is_denied ({tests}:9)" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 passed, 1 failed"
