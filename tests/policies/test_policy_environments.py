"""Acceptance: every environment of this repository, rendered with every chart's objects (from
MERIDIAN_CHART_MIRROR or upstream), passes the whole gate, run as a user runs it."""

from __future__ import annotations

import json
import re

import pytest

from meridian.environments import known_environments


@pytest.mark.slow
def test_every_environment_passes_the_gate(repo, run_meridian, tmp_path):
    envs = known_environments(repo)
    assert envs, "the repository declares environments"
    result = run_meridian(
        "policy", "check", "--all", "--format", "json", "--output", str(tmp_path / "gate.json"), timeout=1800
    )
    assert (tmp_path / "gate.json").is_file(), f"exit {result.returncode}: {result.stderr[-3000:]}"
    report = json.loads((tmp_path / "gate.json").read_text())
    assert report["environments"] == envs
    assert report["tools"] == ["conftest", "checkov", "secrets"]
    denied = [
        f"{f['environment']} {f['rule']} {f['message']} ({f['file']}:{f['line']})"
        for f in report["findings"]
        if f["severity"] == "deny"
    ]
    assert report["passed"] and result.returncode == 0, "\n".join(denied) or result.stderr
    for exemption in report["exemptions"]:
        assert exemption["status"] == "active", exemption
    # The charts' own objects were among those checked, in every environment, and the summary the
    # command prints says how many per environment.
    assert set(report["chart_objects"]) == set(envs)
    assert all(count > 100 for count in report["chart_objects"].values()), report["chart_objects"]
    printed = re.search(r"\(chart objects: ([^)]*)\)", " ".join(result.stdout.split()))
    assert printed, result.stdout
    assert printed[1] == ", ".join(f"{env} {report['chart_objects'][env]}" for env in envs)
