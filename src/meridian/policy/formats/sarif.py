"""The report as SARIF 2.1.0, the format GitHub code scanning accepts from `upload-sarif`.

Denied findings are errors and warnings are warnings; exemptions are results too, marked as
suppressed in source with their reason, so code scanning shows what is being waived.
"""

from __future__ import annotations

import json
from typing import Any

from meridian import __version__
from meridian.policy.model import Exemption, Finding, GateReport, Severity

_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _location(file: str, line: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": file}}
    if line:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def _rule(finding: Finding) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": finding.rule,
        "shortDescription": {"text": finding.title or finding.rule},
        "fullDescription": {"text": finding.reference or finding.title or finding.rule},
        "defaultConfiguration": {"level": "error" if finding.severity is Severity.DENY else "warning"},
        "properties": {"source": finding.source},
    }
    if finding.url.startswith("http"):
        rule["helpUri"] = finding.url
    return rule


def _result(finding: Finding) -> dict[str, Any]:
    return {
        "ruleId": finding.rule,
        "level": "error" if finding.severity is Severity.DENY else "warning",
        "message": {"text": finding.message},
        "locations": [_location(finding.file, finding.line)],
        "properties": {"environment": finding.environment, "source": finding.source},
    }


def _exemption(exemption: Exemption) -> dict[str, Any]:
    return {
        "ruleId": exemption.rule,
        "level": "note",
        "message": {
            "text": f"{exemption.obj}: exempt from {exemption.rule} until {exemption.expires or '-'}"
        },
        "locations": [_location(exemption.file, exemption.line)],
        "suppressions": [
            {
                "kind": "inSource",
                "status": "accepted" if exemption.status == "active" else "rejected",
                "justification": exemption.reason or "(no reason given)",
            }
        ],
        "properties": {"environment": exemption.environment, "status": exemption.status},
    }


def render(report: GateReport) -> str:
    rules: dict[str, dict[str, Any]] = {}
    for finding in report.findings:
        rules.setdefault(finding.rule, _rule(finding))
    for exemption in report.exemptions:
        rules.setdefault(
            exemption.rule,
            {"id": exemption.rule, "shortDescription": {"text": f"exempted rule {exemption.rule}"}},
        )
    run = {
        "tool": {
            "driver": {
                "name": "meridian-policy-gate",
                "version": __version__,
                "informationUri": "https://github.com/meridian-platform/meridian/tree/main/policies",
                "rules": list(rules.values()),
            }
        },
        "results": [_result(f) for f in report.findings] + [_exemption(e) for e in report.exemptions],
        "properties": {"environments": list(report.environments), "summary": report.summary()},
    }
    return json.dumps({"$schema": _SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)
