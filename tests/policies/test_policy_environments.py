"""Acceptance: every environment of this repository, rendered with every chart's objects (from
MERIDIAN_CHART_MIRROR or upstream), passes the whole gate."""

from __future__ import annotations

import pytest

from meridian.environments import known_environments
from meridian.policy import gate


@pytest.mark.slow
def test_every_environment_passes_the_gate(repo):
    envs = known_environments(repo)
    assert envs, "the repository declares environments"
    report = gate.check_environments(repo, envs)
    assert report.environments == tuple(envs)
    assert report.tools == ("conftest", "checkov", "secrets")
    denied = [f"{f.environment} {f.rule} {f.message} ({f.file}:{f.line})" for f in report.denied]
    assert report.passed, "\n".join(denied)
    for exemption in report.exemptions:
        assert exemption.status == "active", exemption
    # The charts' own objects were among those checked, in every environment.
    assert set(report.chart_objects) == set(envs)
    assert all(count > 100 for count in report.chart_objects.values()), report.chart_objects
    assert "chart objects: " in report.summary()
