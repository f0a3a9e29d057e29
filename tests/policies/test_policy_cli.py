"""`meridian policy check` as people and CI run it: a separate process, exit codes, outputs."""

from __future__ import annotations

import copy
import json
from xml.etree import ElementTree

import pytest
import yaml
from policy_fixtures import BROKEN, HARDENED

PSS_001 = next(p for p in BROKEN if p.stem == "MER-PSS-001")
EXM_001 = next(p for p in BROKEN if p.stem == "MER-EXM-001")
ORDERS = HARDENED / "orders.yaml"


def test_a_denied_object_exits_1_with_a_table_grouped_by_object(run_meridian):
    result = run_meridian("policy", "check", "--skip", "checkov", str(PSS_001), str(EXM_001))
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "Deployment shop/privileged" in out
    assert "MER-PSS-001" in out
    assert "runs privileged; set securityContext.privileged: false" in out
    assert "tests/policies/fixtures/broken/MER-PSS-001.yaml:3" in out
    # The exemption table lists both exemptions of the second file, valid or not.
    assert "Exemptions" in out and "invalid" in out
    assert "FAILED: 3 objects in 2 files, 4 denied, 0 warnings, 2 exemptions" in out
    assert "Traceback" not in result.stderr


def test_warnings_alone_exit_0(run_meridian):
    warned = next(p for p in BROKEN if p.stem == "MER-IMG-002")
    result = run_meridian("policy", "check", "--skip", "checkov", "--skip", "secrets", str(warned))
    assert result.returncode == 0, result.stdout
    assert "MER-IMG-002" in result.stdout and "warn" in result.stdout
    assert "passed: 1 objects in 1 files, 0 denied, 1 warnings" in result.stdout


@pytest.mark.slow
def test_hardened_manifests_pass_with_every_checker(run_meridian):
    result = run_meridian("policy", "check", str(HARDENED))
    assert result.returncode == 0, result.stdout
    assert "passed:" in result.stdout
    # Not a terminal: one line per finished step, so long checkov runs show progress in CI logs.
    assert "checkov done in" in result.stderr


def test_json_output_carries_every_field(run_meridian):
    result = run_meridian("policy", "check", "--skip", "checkov", "--format", "json", str(PSS_001))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["passed"] is False
    [finding] = [f for f in report["findings"] if f["rule"] == "MER-PSS-001"]
    assert finding["severity"] == "deny"
    assert finding["object"] == {"kind": "Deployment", "namespace": "shop", "name": "privileged"}
    assert finding["file"] == "tests/policies/fixtures/broken/MER-PSS-001.yaml"
    assert finding["line"] == 3
    assert finding["reference"].startswith("Pod Security Standards")
    assert "FAILED" in result.stderr  # the summary goes to stderr, keeping stdout pure JSON


def test_sarif_output_is_what_code_scanning_reads(run_meridian, tmp_path):
    target = tmp_path / "out" / "gate.sarif"
    result = run_meridian(
        "policy", "check", "--skip", "checkov", "--format", "sarif", "--output", str(target), str(EXM_001)
    )
    assert result.returncode == 1
    assert "sarif report written to" in result.stdout and "MER-EXM-001" in result.stdout
    sarif = json.loads(target.read_text())
    assert sarif["version"] == "2.1.0"
    [run] = sarif["runs"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["MER-PSS-015"]["helpUri"].startswith("https://")
    errors = [r for r in run["results"] if r["level"] == "error"]
    assert {r["ruleId"] for r in errors} == {"MER-EXM-001", "MER-PSS-015"}
    for r in errors:
        location = r["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "tests/policies/fixtures/broken/MER-EXM-001.yaml"
        assert location["region"]["startLine"] >= 3
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert {r["ruleId"] for r in suppressed} == {"MER-PSS-015", "MER-IMG-002"}
    assert all(r["suppressions"][0]["status"] == "rejected" for r in suppressed)


def test_junit_output_has_a_case_per_object_and_a_failure_per_denied_one(run_meridian):
    result = run_meridian(
        "policy", "check", "--skip", "checkov", "--format", "junit", str(PSS_001), str(EXM_001)
    )
    assert result.returncode == 1
    root = ElementTree.fromstring(result.stdout)  # noqa: S314 - our own output, not untrusted XML
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {
        "Deployment shop/privileged",
        "Deployment shop/reasonless",
        "Deployment shop/undated",
    }
    assert all(case.find("failure") is not None for case in cases.values())
    assert root.get("failures") == "3"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name PATHs (with at most one --env ENV they belong to), or --env ENV, or --all"),
        ((str(PSS_001), "--env", "dev", "--env", "prod"), "at most one --env"),
        ((str(PSS_001), "--env", "qa"), "unknown environment 'qa'"),
        (("--env", "dev", "--all"), "or --all"),
        (("--env", "nowhere"), "unknown environment 'nowhere'"),
        (("does-not-exist.yaml",), "does-not-exist.yaml: no such file or folder"),
        (("--output", "x.txt", str(PSS_001)), "--output needs --format json, sarif or junit"),
    ],
)
def test_usage_and_input_errors_exit_2_without_a_traceback(run_meridian, args, message):
    result = run_meridian("policy", "check", "--skip", "checkov", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_files_checked_for_an_environment_see_its_platform(run_meridian, tmp_path):
    # A lone Deployment in dev's orders namespace: dev's platform gives that namespace its
    # default-deny, so the isolation rule holds; in a namespace dev does not have, it does not.
    deployment = next(d for d in yaml.safe_load_all(ORDERS.read_text()) if d["kind"] == "Deployment")
    fenced, unfenced = copy.deepcopy(deployment), copy.deepcopy(deployment)
    fenced["metadata"]["namespace"], unfenced["metadata"]["namespace"] = "orders", "payments"
    path = tmp_path / "lone.yaml"
    path.write_text(yaml.safe_dump_all([fenced, unfenced]))

    result = run_meridian("policy", "check", str(path), "--env", "dev", "--skip", "checkov", "-f", "json")

    report = json.loads(result.stdout)
    assert result.returncode == 1, result.stderr
    assert report["environments"] == ["dev"]
    found = [(f["rule"], f["object"]["namespace"]) for f in report["findings"]]
    assert found == [("MER-NET-005", "payments")]


def test_unparsable_yaml_exits_2_naming_file_and_line(run_meridian, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {a: b\n")
    result = run_meridian("policy", "check", str(bad))
    assert result.returncode == 2
    assert "bad.yaml:6: not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_policy_and_secrets_commands(run_meridian):
    result = run_meridian("--help")
    assert "policy" in result.stdout and "secrets" in result.stdout
    check = run_meridian("policy", "check", "--help")
    for option in ("--env", "--all", "--format", "--output", "--skip"):
        assert option in check.stdout


@pytest.mark.slow
def test_an_environment_is_rendered_then_checked(run_meridian, repo_root):
    result = run_meridian("policy", "check", "--env", "dev", "--skip", "checkov", "--format", "json")
    report = json.loads(result.stdout)
    assert report["environments"] == ["dev"]
    assert report["objects"] > 0
    assert all(f["file"].startswith("build/dev/") for f in report["findings"])
    assert result.returncode == (0 if report["passed"] else 1)
    assert (repo_root / "build" / "dev" / "platform").is_dir()
