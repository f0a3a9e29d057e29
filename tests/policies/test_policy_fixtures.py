"""Acceptance: every deliberately broken manifest is caught with the right rule id (and nothing
else), the hardened manifests pass the whole gate, and every rule has a broken manifest."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from policy_fixtures import BROKEN, HARDENED, broken_fixture

from meridian import toolchain
from meridian.policy import gate
from meridian.policy.model import Severity
from meridian.promote import supply_chain


def _evaluate(repo, query: str):
    """A value of the policies as OPA evaluates it, not as a regex would read it."""
    opa = toolchain.require_tool(repo, "opa")
    proc = subprocess.run(
        [opa, "eval", "--format", "json", "--data", str(repo.policies_dir / "rego"), query],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]


def catalog(repo) -> dict[str, dict[str, str]]:
    return _evaluate(repo, "data.meridian.catalog.rules")


def severities_today(repo) -> dict[str, str]:
    """What each rule is reported as today: a rule in transition warns until its date."""
    return _evaluate(
        repo, "{id: data.meridian.catalog.severity(id) | some id, _ in data.meridian.catalog.rules}"
    )


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_manifest_is_caught_with_its_rule_id(repo, path: Path):
    fixture = broken_fixture(path)
    report = gate.check_paths(repo, [path], environment=fixture.environment, checkers=["conftest"])
    found = {f.rule for f in report.findings}
    assert found == fixture.expected, f"{path.name}: expected {sorted(fixture.expected)}, got {sorted(found)}"
    for finding in report.findings:
        assert finding.file == f"tests/policies/fixtures/broken/{path.name}"
        assert finding.line is not None and finding.line > 1
        assert finding.obj is not None and str(finding.obj) in finding.message
        assert finding.reference and finding.title


def test_every_rule_has_a_broken_manifest_named_after_it(repo):
    rules = catalog(repo)
    assert {p.stem for p in BROKEN} == set(rules)


def test_broken_manifests_of_deny_rules_fail_the_gate(repo):
    rules = severities_today(repo)
    for path in BROKEN:
        fixture = broken_fixture(path)
        if rules[path.stem] != "deny":
            continue
        report = gate.check_paths(repo, [path], environment=fixture.environment, checkers=["conftest"])
        assert not report.passed, path.name
        assert report.exit_code == 1


def test_warning_rules_do_not_fail_the_gate(repo):
    rules = severities_today(repo)
    warned = [p for p in BROKEN if rules[p.stem] == "warn"]
    assert warned, "the catalog has warning rules"
    for path in warned:
        fixture = broken_fixture(path)
        report = gate.check_paths(repo, [path], environment=fixture.environment, checkers=["conftest"])
        assert report.passed, path.name
        assert {f.severity for f in report.findings} == {Severity.WARN}


@pytest.mark.slow
def test_hardened_manifests_pass_the_whole_gate_in_prod(repo):
    report = gate.check_paths(repo, [HARDENED], environment="prod")
    assert report.tools == ("conftest", "checkov", "secrets")
    assert report.findings == [], "\n".join(f"{f.rule} {f.message}" for f in report.findings)
    assert report.exemptions == []
    assert report.passed and report.exit_code == 0
    assert report.objects >= 20


def _readme_section(repo, heading: str) -> str:
    readme = (repo.policies_dir / "README.md").read_text()
    assert f"\n## {heading}\n" in readme, f"policies/README.md has no section {heading!r}"
    return readme.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _rule_rows(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\| (MER-[A-Z]+-\d{3}) \| (deny|warn) \|", text, re.MULTILINE))


def test_readme_lists_every_rule_with_its_severity(repo):
    rules = catalog(repo)
    rows = _rule_rows(_readme_section(repo, "Rules"))
    assert rows == {rule: spec["severity"] for rule, spec in rules.items()}


def test_readme_lists_the_supply_chain_rules_of_promotions(repo):
    rows = _rule_rows(_readme_section(repo, "Rules of promotions that ask the registry"))
    assert rows == {rule: "deny" for rule, _ in supply_chain.RULES}


def test_readme_lists_every_transition_with_its_end(repo):
    transitions = _evaluate(repo, "data.meridian.catalog.transitions")
    readme = (repo.policies_dir / "README.md").read_text()
    section = readme.split("## Rules in transition", 1)[1].split("\n## ", 1)[0]
    listed = dict(re.findall(r"^\| (MER-[A-Z]+-\d{3}) \| (\d{4}-\d{2}-\d{2}) \|", section, re.MULTILINE))
    assert listed == {rule: t["until"] for rule, t in transitions.items()}
    for rule, transition in transitions.items():
        row = re.search(rf"^\| {rule} \| deny \| (.+)$", readme, re.MULTILINE)
        assert row, rule
        assert f"warns until {transition['until']}" in row.group(1), rule
