"""The report as JUnit XML: a suite per file, a test case per object, a failure per denied finding.

CI systems that read JUnit then show each object that passed or failed; warnings and exemptions
go to the case's system-out, where they are visible without failing it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from meridian.policy.model import GateReport, Severity

_NO_OBJECT = "(file)"


def render(report: GateReport) -> str:
    cases: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    failures: dict[tuple[str, str], list[str]] = defaultdict(list)
    for finding in report.findings:
        name = str(finding.obj) if finding.obj else _NO_OBJECT
        line = f"{finding.rule} [{finding.severity}] {finding.message}"
        if finding.severity is Severity.DENY:
            failures[(finding.file, name)].append(line)
        else:
            cases[finding.file][name].append(line)
        cases[finding.file].setdefault(name, [])
    for exemption in report.exemptions:
        note = f"{exemption.rule} exemption {exemption.status} until {exemption.expires}: {exemption.reason}"
        cases[exemption.file][str(exemption.obj)].append(note)

    root = ET.Element("testsuites", name="meridian policy gate", tests="0", failures="0")
    total = failed = 0
    for file in sorted(cases):
        suite = ET.SubElement(root, "testsuite", name=file)
        suite_failures = 0
        for name in sorted(cases[file]):
            case = ET.SubElement(suite, "testcase", classname=file, name=name)
            denied = failures.get((file, name), [])
            if denied:
                failure = ET.SubElement(case, "failure", message=denied[0][:200], type="policy")
                failure.text = "\n".join(denied)
                suite_failures += 1
            if cases[file][name]:
                ET.SubElement(case, "system-out").text = "\n".join(cases[file][name])
        suite.set("tests", str(len(cases[file])))
        suite.set("failures", str(suite_failures))
        total += len(cases[file])
        failed += suite_failures
    root.set("tests", str(total))
    root.set("failures", str(failed))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
