"""Acceptance on a real API server: the repository's own rendered environments are all admitted by
the policy webhook configured for each, and so are the platform charts' objects as Helm installs
them (its release annotation instead of the render's exemption annotations)."""

from __future__ import annotations

from pathlib import Path

import pytest
from admission_harness import chart_objects, helm_installed, use_environment
from meridian_core.layout import Repo
from meridian_infra import namespaces as ns
from support.local_cluster import REPO_ROOT, ClusterUnderTest, output

from meridian.cluster.dryrun import Manifest, Verdict, check
from meridian.environments import load_spec

pytestmark = pytest.mark.slow

ENVS = ("dev", "staging", "prod")


@pytest.mark.parametrize("env", ENVS)
def test_meridian_validate_admits_the_rendered_environment(admission_cluster: ClusterUnderTest, env: str):
    use_environment(admission_cluster, env)
    result = admission_cluster.run("validate", env)
    assert result.returncode == 0, output(result)
    summary = next(
        line for line in result.stdout.splitlines() if line.startswith(f"{env}: ") and " checked" in line
    )
    assert " 0 rejected" in summary, summary
    assert int(summary.split(": ", 1)[1].split()[0]) > 100, summary  # objects the API server judged


@pytest.mark.parametrize("env", ENVS)
def test_the_platform_charts_are_admitted_as_helm_installs_them(
    admission_cluster: ClusterUnderTest, rendered: dict[str, Path], env: str
):
    use_environment(admission_cluster, env)
    spec = load_spec(Repo(REPO_ROOT), env)
    # The platform's namespaces, with their tier labels, exist for the check (created and removed
    # again by the dry run's scaffold where the cluster lacks them).
    namespaces = [
        Manifest(Path("namespaces"), ns.platform_namespace_objects(spec, n)[0])
        for n in spec.platform_namespaces
    ]
    objects = [
        Manifest(Path(f"charts/{release}.yaml"), helm_installed(release, obj))
        for release, obj in chart_objects(rendered[env])
    ]
    with admission_cluster.api() as api:
        report = check(api, [*namespaces, *objects])
        rejected = [
            f"{o.manifest.label()}: {o.reason}" for o in report.outcomes if o.verdict is Verdict.REJECTED
        ]
        assert not rejected, "\n".join(rejected)
        assert report.count(Verdict.CHECKED) > 100
        # The same objects without Helm's annotation: the webhook judged them, and the charts.yaml
        # entries matched by release are what admits them.
        operator = next(m for m in objects if (m.kind, m.name) == ("Deployment", "tigera-operator"))
        bare = dict(operator.body, metadata={**operator.body["metadata"], "annotations": {}})
        home = next(m for m in namespaces if m.name == "tigera-operator")
        refused = check(api, [home, Manifest(operator.source, bare)])
    reasons = [o.reason for o in refused.outcomes if o.verdict is Verdict.REJECTED]
    assert (
        reasons and 'admission webhook "platform.admission.meridian.dev" denied the request: ' in reasons[0]
    )
    assert "MER-PSS-" in reasons[0]
