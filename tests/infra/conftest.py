"""Run the platform program under Pulumi's mocks once per environment and share the recording."""

from __future__ import annotations

import pytest
from meridian_infra.offline import record_platform
from meridian_infra.spec import load_environment


@pytest.fixture(scope="session")
def declared(repo_root):
    """Per environment: (spec, platform, recording) of the program run offline."""
    runs = {}
    for env in ("dev", "staging", "prod"):
        spec = load_environment(repo_root / "environments", env)
        platform, recording = record_platform(spec)
        runs[env] = (spec, platform, recording)
    return runs
