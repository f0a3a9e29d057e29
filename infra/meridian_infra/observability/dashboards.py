"""One Grafana dashboard per app, built with grafana-foundation-sdk and never edited by hand.

The dashboard is built from the app's name alone and reads the objectives from the series the SLO
rules record (budgets, threshold, burn ratios), so it carries no per-environment numbers and follows
no edit of the app's contract (a new call shows in the outbound panels every app has): every
environment serves the same JSON, and the copy committed under `apps/<app>/dashboards/` (one per app
with a contract, apps/<app>/app.yaml) is what `meridian dev dashboards` (`make dashboards`) writes
and a test compares.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import logs, loki, prometheus, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, DataSourceRef, VariableHide
from grafana_foundation_sdk.models.prometheus import PromQueryFormat
from meridian_core import layout

from meridian_infra.observability import slo

PROMETHEUS = DataSourceRef(type_val="prometheus", uid="${datasource}")
LOKI = DataSourceRef(type_val="loki", uid="loki")  # the data source observability.py gives Grafana
QUANTILES = (0.5, 0.9, 0.99)
RATE_WINDOW = "$__rate_interval"


def _query(expr: str, legend: str, ref: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(PROMETHEUS)


def _refs(*queries: tuple[str, str]) -> list[prometheus.Dataquery]:
    """Queries lettered A, B, C… in order, as Grafana names them."""
    return [_query(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(queries)]


def _legend() -> common_builders.VizLegendOptions:
    """A table under the graph with each series' last and highest value."""
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["lastNotNull", "max"])
    )


def _graph(title: str, description: str, unit: str, queries: list[prometheus.Dataquery]) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .unit(unit)
        .height(8)
        .span(12)
        .fill_opacity(10)
        .legend(_legend())
    )
    for query in queries:
        panel = panel.with_target(query)
    return panel


def _api(app_name: str, *extra: str) -> str:
    """The selector the SLO rules use: the app's namespace, its own gRPC services."""
    return "{" + ",".join([f'namespace="{app_name}"', slo.NOT_THE_API, *extra]) + "}"


def _recorded(series: str, app_name: str) -> str:
    return f'{series}{{app="{app_name}"}}'


def _ratio_panel(app_name: str, objective: slo.Objective, title: str, bad: str) -> timeseries.Panel:
    return _graph(
        title,
        f"Share of {bad} over 5 minutes, against the share the {objective.name} SLO allows.",
        "percentunit",
        _refs(
            (_recorded(objective.ratio_series("5m"), app_name), "bad share (5m)"),
            (_recorded(objective.budget_series, app_name), "allowed by the SLO"),
        ),
    )


def _burn_panel(app_name: str, objective: slo.Objective) -> timeseries.Panel:
    alerts = ", ".join(f"{b.factor} over {b.long} ({b.severity})" for b in slo.BURN_RATES)
    budget = _recorded(objective.budget_series, app_name)
    return _graph(
        f"{objective.name.capitalize()} budget burn rate",
        f"How many times faster than a 30-day budget lasts it is being spent. {objective.alert} fires at "
        f"{alerts}, when the short window agrees.",
        "suffix:x",
        _refs(
            *[
                (f"{_recorded(objective.ratio_series(b.long), app_name)} / {budget}", b.long)
                for b in slo.BURN_RATES
            ]
        ),
    )


def _slo_panels(app_name: str) -> list[timeseries.Panel]:
    return [
        _ratio_panel(
            app_name, slo.AVAILABILITY, "Error ratio vs SLO", "requests failing with a server-side code"
        ),
        _burn_panel(app_name, slo.AVAILABILITY),
        _ratio_panel(
            app_name, slo.LATENCY, "Slow requests vs SLO", "unary requests slower than the threshold"
        ),
        _burn_panel(app_name, slo.LATENCY),
    ]


def _traffic_panels(app_name: str) -> list[timeseries.Panel]:
    handled = f"grpc_server_handled_total{_api(app_name)}"
    unary = 'grpc_type="unary"'
    buckets = f"grpc_server_handling_seconds_bucket{_api(app_name, unary)}"
    panels = [
        _graph(
            "Requests by method and code",
            "Requests the app's gRPC services finished, per second.",
            "reqps",
            _refs(
                (
                    f"sum by (grpc_method, grpc_code) (rate({handled}[{RATE_WINDOW}]))",
                    "{{grpc_method}} {{grpc_code}}",
                )
            ),
        ),
        _graph(
            "Latency (unary)",
            "Quantiles of the server's handling time, from its histogram, against the latency threshold.",
            "s",
            _refs(
                *[
                    (
                        f"histogram_quantile({q}, sum by (le) (rate({buckets}[{RATE_WINDOW}])))",
                        f"p{round(q * 100)}",
                    )
                    for q in QUANTILES
                ],
                (_recorded(slo.LATENCY_THRESHOLD, app_name), "SLO threshold"),
            ),
        ),
    ]
    # The client metrics carry the callee's service; the caller's namespace says whose calls they are.
    # Every app has these panels (empty while it calls no other app), so the apps it calls, which its
    # contract names, are written there alone.
    calls = f'{{namespace="{app_name}"}}'
    panels += [
        _graph(
            "Outbound calls by method and code",
            f"Calls {app_name} makes to other apps (its contract's calls), per second.",
            "reqps",
            _refs(
                (
                    "sum by (grpc_method, grpc_code) "
                    f"(rate(grpc_client_handled_total{calls}[{RATE_WINDOW}]))",
                    "{{grpc_method}} {{grpc_code}}",
                )
            ),
        ),
        _graph(
            "Outbound call latency p99",
            "Time until each outbound call's answer, as the caller saw it.",
            "s",
            _refs(
                (
                    "histogram_quantile(0.99, sum by (le, grpc_method) "
                    f"(rate(grpc_client_handling_seconds_bucket{calls}[{RATE_WINDOW}])))",
                    "{{grpc_method}}",
                )
            ),
        ),
    ]
    return panels


def _builds_panel(app_name: str) -> table.Panel:
    build_info = f'meridian_build_info{{namespace="{app_name}",app="{app_name}"}}'
    return (
        table.Panel()
        .title("Running builds")
        .description("Pods per version and revision, from meridian_build_info.")
        .datasource(PROMETHEUS)
        .height(6)
        .span(24)
        .with_target(
            prometheus.Dataquery()
            .expr(f"count by (version, revision) ({build_info})")
            .format(PromQueryFormat.TABLE)
            .instant()
            .ref_id("A")
            .datasource(PROMETHEUS)
        )
    )


def _logs_panel(app_name: str) -> logs.Panel:
    return (
        logs.Panel()
        .title("Logs")
        .description(f"{app_name}'s JSON log lines, newest first.")
        .datasource(LOKI)
        .height(12)
        .span(24)
        .show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(common.LogsSortOrder.DESCENDING)
        .with_target(
            loki.Dataquery()
            .expr(f'{{namespace="{app_name}", app="{app_name}"}}')
            .ref_id("A")
            .datasource(LOKI)
        )
    )


def build(app_name: str) -> dict[str, Any]:
    """The dashboard of one app as Grafana's JSON model."""
    sections: list[tuple[str, list[Any]]] = [
        ("Service level objectives", _slo_panels(app_name)),
        ("Traffic and latency", _traffic_panels(app_name)),
        ("Builds and logs", [_builds_panel(app_name), _logs_panel(app_name)]),
    ]
    builder = (
        gd.Dashboard(f"{app_name}: gRPC service")
        .uid(f"meridian-{app_name}")
        .description(
            f"SLOs, traffic, latency, builds and logs of {app_name}. "
            "Generated: meridian_infra.observability.dashboards."
        )
        .tags(["meridian", "slo", app_name])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .time("now-6h", "now")
        .refresh("1m")
        .with_variable(
            gd.DatasourceVariable("datasource")
            .label("Prometheus")
            .type("prometheus")
            .hide(VariableHide.DONT_HIDE)
        )
    )
    # Grafana keys panel state (links, edits) by id; numbering them here keeps ids stable across runs.
    panel_id = 0
    for title, panels in sections:
        panel_id += 1
        builder = builder.with_row(gd.Row(title).id(panel_id))
        for panel in panels:
            panel_id += 1
            builder = builder.with_panel(panel.id(panel_id))
    model: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return model


def render(app_name: str) -> str:
    """The dashboard as the text committed to the repository and shipped in the ConfigMap."""
    return json.dumps(build(app_name), indent=2, sort_keys=True) + "\n"


def committed_path(root: Path, app_name: str) -> Path:
    return root / layout.app_path(app_name) / "dashboards" / f"{app_name}.json"


def render_all(root: Path) -> dict[str, str]:
    """The dashboard text of every app of the checkout at `root` that has a contract."""
    contracts = sorted(layout.Repo(root).apps_dir.glob(f"*/{layout.CONTRACT_FILE}"))
    return {path.parent.name: render(path.parent.name) for path in contracts}
