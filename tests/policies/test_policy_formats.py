"""The report renderings on a report built by hand: what each format must carry."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from rich.console import Console

from meridian.policy.formats import json_report, junit, sarif, table
from meridian.policy.model import Exemption, Finding, GateReport, ObjectRef, Severity
from meridian.policy.rego_tests import policy_coverage, total_percent

ORDERS = ObjectRef("Deployment", "shop", "orders")


def report() -> GateReport:
    return GateReport(
        findings=[
            Finding(
                rule="MER-PSS-009",
                severity=Severity.DENY,
                message='Deployment shop/orders: container "app" keeps the default capabilities; '
                "set securityContext.capabilities.drop: [ALL]",
                file="build/prod/apps/orders.yaml",
                line=12,
                obj=ORDERS,
                source="conftest",
                title="capabilities not dropped",
                reference="Pod Security Standards, restricted: Capabilities",
                url="https://kubernetes.io/docs/concepts/security/pod-security-standards/",
                environment="prod",
            ),
            Finding(
                rule="MER-IMG-002",
                severity=Severity.WARN,
                message="Deployment shop/orders: image tag can be moved",
                file="build/prod/apps/orders.yaml",
                line=12,
                obj=ORDERS,
                source="conftest",
                environment="prod",
            ),
            Finding(
                rule="CKV_GHA_7",
                severity=Severity.DENY,
                message="Workflow ci: inputs should be empty",
                file=".github/workflows/ci.yaml",
                line=None,
                obj=None,
                source="checkov",
            ),
        ],
        exemptions=[
            Exemption(
                rule="MER-PSS-015",
                status="active",
                expires="2099-01-31",
                reason="cache [on disk]",
                file="build/prod/apps/orders.yaml",
                line=12,
                obj=ORDERS,
                environment="prod",
            )
        ],
        environments=("prod",),
        files=2,
        objects=1,
        tools=("conftest", "checkov"),
        seconds={"conftest": 0.5, "total": 1.0},
    )


def test_table_groups_by_object_and_prints_brackets_literally():
    console = Console(record=True, width=250, color_system=None)
    table.render(report(), console)
    text = console.export_text()
    assert "drop: [ALL]" in text
    assert "cache [on disk]" in text
    assert text.count("Deployment shop/orders") == 2  # once for its group, once in the exemptions
    assert "build/prod/apps/orders.yaml:12" in text
    assert "prod: FAILED: 1 objects in 2 files, 2 denied, 1 warnings, 1 exemptions" in text


def test_json_report():
    data = json.loads(json_report.render(report()))
    assert data["passed"] is False
    assert [f["severity"] for f in data["findings"]] == ["deny", "warn", "deny"]
    assert data["findings"][2]["object"] is None
    assert data["exemptions"][0]["object"]["name"] == "orders"


def test_sarif_levels_rules_and_suppressions():
    run = json.loads(sarif.render(report()))["runs"][0]
    assert [r["level"] for r in run["results"]] == ["error", "warning", "error", "note"]
    assert "region" not in run["results"][2]["locations"][0]["physicalLocation"]
    assert run["results"][3]["suppressions"][0] == {
        "kind": "inSource",
        "status": "accepted",
        "justification": "cache [on disk]",
    }
    ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert ids == ["MER-PSS-009", "MER-IMG-002", "CKV_GHA_7", "MER-PSS-015"]


def test_junit_counts_objects_and_failures():
    root = ElementTree.fromstring(junit.render(report()))  # noqa: S314 - our own output
    assert (root.get("tests"), root.get("failures")) == ("2", "2")
    case = next(c for c in root.iter("testcase") if c.get("name") == "Deployment shop/orders")
    assert "MER-PSS-009" in (case.find("failure").text or "")
    assert "MER-IMG-002" in (case.find("system-out").text or "")


def test_coverage_counts_policy_files_only():
    files = policy_coverage(
        {
            "files": {
                "policies/rego/a.rego": {
                    "covered_lines": 9,
                    "not_covered_lines": 1,
                    "not_covered": [{"start": {"row": 4}, "end": {"row": 4}}],
                },
                "tests/policies/rego/a_test.rego": {"covered_lines": 50, "not_covered_lines": 0},
            }
        }
    )
    assert [(f.file, f.missed_lines) for f in files] == [("policies/rego/a.rego", (4,))]
    assert total_percent(files) == 90.0
