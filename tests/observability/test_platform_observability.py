"""What the platform program declares for the apps' observability, under Pulumi's mocks."""

from __future__ import annotations

import pytest
from meridian_infra.cluster import ClusterAccess
from meridian_infra.observability import dashboards, slo
from meridian_infra.observability.stack import DASHBOARD_LABEL, NAMESPACE
from meridian_infra.offline import OFFLINE_KUBECONFIG, offline_secrets, record_platform, run_offline
from meridian_infra.program import declare_platform
from rule_tests import ENVS
from support.chart_archives import upstreams_at
from support.ports import free_port


@pytest.fixture(scope="module")
def recordings(specs):
    return {env: record_platform(specs[env])[1] for env in ENVS}


def _objects(recording, kind):
    return [d for d in recording.kubernetes_objects() if d.inputs["kind"] == kind]


@pytest.mark.parametrize("env", ENVS)
def test_each_app_gets_its_slo_rules_in_its_own_namespace(specs, recordings, env):
    spec = specs[env]
    rules = _objects(recordings[env], "PrometheusRule")
    assert sorted(r.inputs["metadata"]["namespace"] for r in rules) == sorted(spec.apps)
    for rule in rules:
        app = rule.inputs["metadata"]["namespace"]
        assert rule.type == "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
        assert rule.component == "appobservability"
        assert rule.inputs["apiVersion"] == "monitoring.coreos.com/v1"
        assert rule.inputs["metadata"]["name"] == f"{app}-slo"
        assert rule.inputs["spec"]["groups"] == slo.rule_groups(spec, app)


@pytest.mark.parametrize("env", ENVS)
def test_each_app_gets_a_dashboard_config_map_grafana_loads(specs, recordings, repo_root, env):
    maps = [
        m for m in _objects(recordings[env], "ConfigMap") if DASHBOARD_LABEL in m.inputs["metadata"]["labels"]
    ]
    assert sorted(m.inputs["metadata"]["name"] for m in maps) == sorted(
        f"dashboard-{app}" for app in specs[env].apps
    )
    for config_map in maps:
        metadata = config_map.inputs["metadata"]
        app = metadata["name"].removeprefix("dashboard-")
        assert metadata["namespace"] == NAMESPACE
        assert metadata["labels"][DASHBOARD_LABEL] == "1"
        committed = dashboards.committed_path(repo_root, app).read_text(encoding="utf-8")
        assert config_map.inputs["data"] == {f"{app}.json": committed}


def test_without_the_monitoring_chart_rules_are_skipped_and_dashboards_stay(specs, monkeypatch, tmp_path):
    # The upstream repository of kube-prometheus-stack does not answer; the others serve their archives.
    closed = f"http://127.0.0.1:{free_port()}/charts"
    upstreams_at(monkeypatch, tmp_path / "charts", unreachable=("kube-prometheus-stack",), closed_url=closed)
    spec = specs["dev"]
    holder = {}

    def program():
        holder["platform"] = declare_platform(
            spec,
            ClusterAccess(kubeconfig=OFFLINE_KUBECONFIG),
            probe_charts=True,
            secrets=offline_secrets(spec),
        )

    recording = run_offline(program, stack="dev")
    assert holder["platform"].charts.skipped == ["kube-prometheus-stack"]
    assert _objects(recording, "PrometheusRule") == []
    dashboards_declared = [
        m for m in _objects(recording, "ConfigMap") if m.inputs["metadata"]["name"].startswith("dashboard-")
    ]
    assert len(dashboards_declared) == len(spec.apps)
