"""The promotion rules' own unit tests (opa test, with coverage), and the catalog kept in step with
the table people read in docs/promotions.md."""

from __future__ import annotations

import json
import re
import subprocess

from promote_world import REPO_ROOT

POLICIES = "policies/promotion"
TESTS = "tests/promote/rego"


def _opa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO_ROOT / "bin" / "opa"), "test", "--timeout", "120s", *args, POLICIES, TESTS],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_rego_unit_tests_pass_and_cover_the_rules() -> None:
    results = json.loads(_opa("--format", "json").stdout)
    failed = [
        f"{r['package']}.{r['name']}: {r.get('error', 'failed')}"
        for r in results
        if r.get("fail") or r.get("error")
    ]
    assert results
    assert failed == []

    coverage = json.loads(_opa("--coverage", "--format", "json").stdout)
    ours = {name: entry for name, entry in coverage["files"].items() if name.startswith(POLICIES)}
    covered = sum(e.get("covered_lines", 0) for e in ours.values())
    total = covered + sum(e.get("not_covered_lines", 0) for e in ours.values())
    assert total and 100.0 * covered / total >= 90.0, {n: e.get("not_covered") for n, e in ours.items()}


def test_the_documented_rules_are_the_catalog() -> None:
    catalog = (REPO_ROOT / POLICIES / "catalog.rego").read_text()
    documented = (REPO_ROOT / "docs" / "promotions.md").read_text()

    in_catalog = re.findall(r'"(MER-PROMO-\d{3})": "', catalog)
    in_docs = re.findall(r"^\| (MER-PROMO-\d{3}) \|", documented, flags=re.MULTILINE)
    rules = [
        rule
        for path in sorted((REPO_ROOT / POLICIES).glob("*.rego"))
        for rule in re.findall(r'refusal\("(MER-PROMO-\d{3})"', path.read_text())
    ]

    assert in_catalog == in_docs
    assert set(rules) == set(in_catalog)
