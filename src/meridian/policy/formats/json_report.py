"""The report as JSON: every finding and exemption with all its fields, and the verdict."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from meridian.policy.model import GateReport, ObjectRef


def _object(obj: ObjectRef | None) -> dict[str, str] | None:
    return asdict(obj) if obj else None


def render(report: GateReport) -> str:
    document: dict[str, Any] = {
        "passed": report.passed,
        "summary": report.summary(),
        "environments": list(report.environments),
        "files": report.files,
        "objects": report.objects,
        "chart_objects": report.chart_objects,
        "tools": list(report.tools),
        "seconds": {k: round(v, 3) for k, v in report.seconds.items()},
        "findings": [
            {**asdict(f), "severity": str(f.severity), "object": _object(f.obj)} for f in report.findings
        ],
        "exemptions": [{**asdict(e), "object": _object(e.obj)} for e in report.exemptions],
    }
    for entry in [*document["findings"], *document["exemptions"]]:
        entry.pop("obj")
    return json.dumps(document, indent=2)
