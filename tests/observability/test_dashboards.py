"""The apps' Grafana dashboards: generated, committed as generated, well-formed, and their queries
valid PromQL over series the rules record or the apps export (the latter checked against running
services in test_metric_names)."""

from __future__ import annotations

import json
import shutil

import pytest
from meridian_infra.observability import dashboards, slo
from promql_names import dashboard_queries, metric_names
from rule_tests import write

APPS = ("inventory", "orders")


@pytest.fixture(scope="module")
def generated(repo_root) -> dict[str, str]:
    return dashboards.render_all(repo_root)


@pytest.mark.parametrize("app", APPS)
def test_committed_dashboard_is_exactly_what_the_code_generates(repo_root, generated, app):
    committed = dashboards.committed_path(repo_root, app).read_text(encoding="utf-8")
    assert committed == generated[app], "apps/*/dashboards/ are generated: run `make dashboards`"


def test_meridian_dev_dashboards_writes_them_and_checks_them(meridian_cli, repo_root, tmp_path):
    for app in APPS:
        (tmp_path / "apps" / app).mkdir(parents=True)
        shutil.copy2(repo_root / "apps" / app / "app.yaml", tmp_path / "apps" / app / "app.yaml")
    shutil.copy(repo_root / "Pulumi.yaml", tmp_path)
    root = {"MERIDIAN_ROOT": str(tmp_path)}
    assert meridian_cli("dev", "dashboards", "--check", env=root).returncode == 1  # none written yet
    written = meridian_cli("dev", "dashboards", env=root)
    assert written.returncode == 0, written.stderr
    assert "wrote apps/orders/dashboards/orders.json" in written.stdout
    assert meridian_cli("dev", "dashboards", "--check", env=root).returncode == 0
    stale = dashboards.committed_path(tmp_path, "orders")
    stale.write_text(stale.read_text().replace('"Logs"', '"Logs (edited by hand)"'))
    checked = meridian_cli("dev", "dashboards", "--check", env=root)
    assert checked.returncode == 1
    assert f"{stale} is not what the code generates: run `make dashboards`" in checked.stderr
    assert "inventory.json" not in checked.stderr


@pytest.mark.parametrize("app", APPS)
def test_dashboard_is_a_well_formed_grafana_model(generated, app):
    model = json.loads(generated[app])
    assert model["uid"] == f"meridian-{app}"
    assert [v["name"] for v in model["templating"]["list"]] == ["datasource"]
    panels = model["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        area = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        for target in panel.get("targets", []):
            assert target["datasource"] == panel["datasource"]


@pytest.mark.parametrize("app", APPS)
def test_dashboard_has_the_panels_operators_need(generated, app):
    model = json.loads(generated[app])
    by_title = {p["title"]: p for p in model["panels"]}
    assert {
        "Requests by method and code",
        "Error ratio vs SLO",
        "Latency (unary)",
        "Availability budget burn rate",
        "Latency budget burn rate",
        "Running builds",
        "Logs",
    } <= set(by_title)
    quantiles = [t["legendFormat"] for t in by_title["Latency (unary)"]["targets"]]
    assert quantiles == ["p50", "p90", "p99", "SLO threshold"]
    burn_windows = [t["legendFormat"] for t in by_title["Availability budget burn rate"]["targets"]]
    assert burn_windows == [b.long for b in slo.BURN_RATES]
    logs = by_title["Logs"]
    assert logs["type"] == "logs"
    assert logs["datasource"] == {"type": "loki", "uid": "loki"}
    assert logs["targets"][0]["expr"] == f'{{namespace="{app}", app="{app}"}}'
    # Every app has the outbound panels, whichever apps its contract says it calls: a new call
    # needs no dashboard change.
    outbound = by_title["Outbound calls by method and code"]["targets"][0]["expr"]
    assert f'grpc_client_handled_total{{namespace="{app}"}}' in outbound


@pytest.mark.parametrize("app", APPS)
def test_every_dashboard_query_is_valid_promql(generated, promtool, tmp_path, app):
    # promtool parses expressions only inside rule files, so each query becomes a recording rule;
    # Grafana's $__rate_interval is substituted as Grafana would.
    queries = list(dashboard_queries(json.loads(generated[app])))
    rules = [
        {"record": f"dashboard:query{i}", "expr": q.replace("$__rate_interval", "5m")}
        for i, q in enumerate(queries)
    ]
    checked = promtool(
        "check", "rules", write(tmp_path / "queries.json", {"groups": [{"name": app, "rules": rules}]})
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(queries)} rules found" in checked.stdout


@pytest.mark.parametrize("app", APPS)
def test_dashboard_reads_recorded_series_only_the_rules_record(generated, app):
    used = set().union(*(metric_names(q) for q in dashboard_queries(json.loads(generated[app]))))
    recorded_here = {name for name in used if ":" in name}
    assert recorded_here
    assert recorded_here <= slo.recorded_names()
