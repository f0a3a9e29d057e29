"""SLO alerting on the apps' gRPC servers: recording rules and multi-window, multi-burn-rate alerts.

Pure functions from the environment spec to Prometheus rule groups (plain data in the rule-file
format), so the same groups become PrometheusRule objects on the cluster and files `promtool` checks
and unit-tests.

Two objectives per app, both over a 30-day budget:
- availability: the share of requests that end with a server-side error code (`ERROR_CODES`);
- latency: the share of unary requests slower than the SLO threshold, read from the histogram bucket
  whose upper bound is that threshold (streams are left out: their duration is the stream's life).

Each alert needs a long window (is the budget really burning?) and a short one (is it still burning
now?), so it fires within minutes of a real problem and stops soon after it is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from meridian_core import durations

from meridian_infra.objects import TEAM_LABEL, Manifest, manifest
from meridian_infra.spec.models import App, EnvironmentSpec

Rule = dict[str, Any]
RuleGroup = dict[str, Any]

# Codes that mean the service (or something it depends on) failed a caller who asked for nothing
# wrong. ResourceExhausted is here because gRPC itself rejects oversized messages before the metrics
# interceptor runs, so what reaches the counter is the service running out of something. Caller
# mistakes (InvalidArgument, NotFound, FailedPrecondition, AlreadyExists, …) and Canceled don't burn
# the budget.
ERROR_CODES = (
    "Unknown",
    "DeadlineExceeded",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "ResourceExhausted",
)

# gRPC's own services (health checks from the kubelet, reflection) are not the app's API: counting
# them would dilute the error ratio with probes that always succeed.
NOT_THE_API = r'grpc_service!~"grpc\\.(health|reflection)\\..+"'

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
BUDGET_PERIOD_HOURS = 30 * 24

SLO_LABEL = "slo"


@dataclass(frozen=True)
class BurnRate:
    """Alert when both windows burn the budget at least `factor` times faster than it lasts."""

    long: str
    short: str
    factor: Decimal
    severity: str

    @property
    def budget_gone_in(self) -> str:
        hours = Decimal(BUDGET_PERIOD_HOURS) / self.factor
        return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"


BURN_RATES = (
    BurnRate("1h", "5m", Decimal("14.4"), "page"),  # 2% of the budget in one hour
    BurnRate("6h", "30m", Decimal(6), "page"),  # 5% in six hours
    BurnRate("1d", "2h", Decimal(3), "ticket"),  # 10% in a day
    BurnRate("3d", "6h", Decimal(1), "ticket"),  # 10% in three days
)


@dataclass(frozen=True)
class Objective:
    """One SLO kind: the series it records and the alert that watches them."""

    name: str  # the `slo` label
    ratio: str  # recorded name prefix; the window is appended
    budget_series: str  # recorded name of the allowed bad share
    alert: str

    def ratio_series(self, window: str) -> str:
        return f"{self.ratio}{window}"


AVAILABILITY = Objective(
    name="availability",
    ratio="app:grpc_server_errors:ratio_rate",
    budget_series="app:grpc_server_errors:budget",
    alert="GrpcErrorBudgetBurn",
)
LATENCY = Objective(
    name="latency",
    ratio="app:grpc_server_slow_requests:ratio_rate",
    budget_series="app:grpc_server_slow_requests:budget",
    alert="GrpcLatencyBudgetBurn",
)
OBJECTIVES = (AVAILABILITY, LATENCY)
LATENCY_THRESHOLD = "app:grpc_server_latency_threshold:seconds"


def _plain(value: Decimal) -> str:
    """A number as the shortest plain decimal: 0.25, 1, 2.5 (no exponent, no trailing zeros)."""
    return format(value.normalize(), "f")


def latency_bucket(spec: EnvironmentSpec, app_name: str) -> Decimal:
    """The histogram bound equal to the app's latency threshold (the spec accepts no other)."""
    return durations.histogram_bound(spec.apps[app_name].slo.latency_threshold)


def le_matcher(bound: Decimal) -> str:
    """A matcher for one bucket's `le` label however the exporter spells the number.

    client_golang writes whole numbers without a decimal point (`1`), prometheus_client with one
    (`1.0`); both spell fractions the same way (`0.25`).
    """
    plain = _plain(bound)
    if "." in plain:
        return f'le="{plain}"'
    return f'le=~"{plain}|{plain}\\\\.0"'


def _selector(app_name: str, *extra: str) -> str:
    return "{" + ",".join([f'namespace="{app_name}"', NOT_THE_API, *extra]) + "}"


def _error_ratio(app_name: str, window: str) -> str:
    failed = _selector(app_name, 'grpc_code=~"{}"'.format("|".join(ERROR_CODES)))
    errors = f"sum by (namespace) (rate(grpc_server_handled_total{failed}[{window}]))"
    total = f"sum by (namespace) (rate(grpc_server_handled_total{_selector(app_name)}[{window}]))"
    # No error series at all must read as 0, not as no data: dashboards show it, and an absent
    # ratio would hide that traffic exists.
    return f"(\n  {errors}\nor\n  0 * {total}\n)\n/\n{total}"


def _slow_ratio(app_name: str, bound: Decimal, window: str) -> str:
    unary = 'grpc_type="unary"'
    fast = (
        "sum by (namespace) (rate(grpc_server_handling_seconds_bucket"
        f"{_selector(app_name, unary, le_matcher(bound))}[{window}]))"
    )
    every = _selector(app_name, unary)
    total = f"sum by (namespace) (rate(grpc_server_handling_seconds_count{every}[{window}]))"
    return f"1 - (\n  {fast}\n/\n  {total}\n)"


def _budget(target_percent: float) -> Decimal:
    """The allowed bad share for a target in percent: 99.9 → 0.001."""
    return (Decimal(100) - Decimal(str(target_percent))) / Decimal(100)


def budget(app: App, objective: Objective) -> Decimal:
    """The share of requests the objective allows to be bad."""
    return _budget(app.slo.availability if objective is AVAILABILITY else app.slo.latency_target)


def recording_rules(spec: EnvironmentSpec, app_name: str) -> list[Rule]:
    app = spec.apps[app_name]
    bound = latency_bucket(spec, app_name)
    labels = {"app": app_name}
    # Constant series carry the objectives, so dashboards and alerts read one source of truth
    # and a dashboard needs no per-environment numbers.
    rules: list[Rule] = [
        {
            "record": AVAILABILITY.budget_series,
            "expr": f"vector({budget(app, AVAILABILITY)})",
            "labels": {**labels, "namespace": app_name},
        },
        {
            "record": LATENCY.budget_series,
            "expr": f"vector({budget(app, LATENCY)})",
            "labels": {**labels, "namespace": app_name},
        },
        {
            "record": LATENCY_THRESHOLD,
            "expr": f"vector({_plain(bound)})",
            "labels": {**labels, "namespace": app_name},
        },
    ]
    for window in WINDOWS:
        rules.append(
            {
                "record": AVAILABILITY.ratio_series(window),
                "expr": _error_ratio(app_name, window),
                "labels": dict(labels),
            }
        )
        rules.append(
            {
                "record": LATENCY.ratio_series(window),
                "expr": _slow_ratio(app_name, bound, window),
                "labels": dict(labels),
            }
        )
    return rules


def runbook_url(spec: EnvironmentSpec, alert: str) -> str:
    """The runbook in this repository, browsable at the revision the environment deploys."""
    repo = spec.argocd.repo_url.removesuffix(".git")
    if repo.startswith("git@"):
        host, _, path = repo.removeprefix("git@").partition(":")
        repo = f"https://{host}/{path}"
    elif repo.startswith("ssh://"):
        repo = "https://" + repo.removeprefix("ssh://").split("@", 1)[-1]
    return f"{repo}/blob/{spec.argocd.target_revision}/docs/runbooks/{alert}.md"


def _bad(app_name: str, app: App, objective: Objective) -> str:
    if objective is AVAILABILITY:
        return f"the requests {app_name} served failed with a server-side error code"
    return f"the unary requests {app_name} served took longer than {app.slo.latency_threshold}"


def _percent(share: Decimal) -> str:
    return f"{_plain(share * 100)}%"


def _target(app: App, objective: Objective) -> str:
    if objective is AVAILABILITY:
        return f"{app.slo.availability}% of requests succeed"
    return f"{app.slo.latency_target}% of unary requests finish within {app.slo.latency_threshold}"


def burn_alert(spec: EnvironmentSpec, app_name: str, objective: Objective, burn: BurnRate) -> Rule:
    """One alert rule: both windows of `burn` above `factor` times the objective's budget."""
    app = spec.apps[app_name]
    allowed = budget(app, objective)
    threshold = f"({burn.factor} * {allowed})"
    long_ratio = f'{objective.ratio_series(burn.long)}{{app="{app_name}"}}'
    short_ratio = f'{objective.ratio_series(burn.short)}{{app="{app_name}"}}'
    summary = f"{app_name} is burning its {objective.name} error budget {burn.factor}x too fast ({spec.name})"
    value = "{{ $value | humanizePercentage }}"  # the long window's ratio, filled in by Prometheus
    description = (
        f"Over the last {burn.long}, {value} of {_bad(app_name, app, objective)}, "
        f"and over the last {burn.short} still more than {burn.factor}x the budget of {_percent(allowed)}. "
        f"The SLO is {_target(app, objective)} over 30 days; at this rate the whole budget is gone in "
        f"{burn.budget_gone_in}."
    )
    return {
        "alert": objective.alert,
        "expr": f"{long_ratio} > {threshold}\nand\n{short_ratio} > {threshold}",
        "labels": {
            "severity": burn.severity,
            "app": app_name,
            "environment": spec.name,
            SLO_LABEL: objective.name,
            "long_window": burn.long,
            "short_window": burn.short,
        },
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(spec, objective.alert),
        },
    }


def alert_rules(spec: EnvironmentSpec, app_name: str) -> list[Rule]:
    return [burn_alert(spec, app_name, objective, burn) for objective in OBJECTIVES for burn in BURN_RATES]


def group_name(app_name: str) -> str:
    return f"slo-{app_name}"


def rule_groups(spec: EnvironmentSpec, app_name: str) -> list[RuleGroup]:
    """One group per app: recordings first, so the alerts of the same evaluation read fresh ratios."""
    return [
        {"name": group_name(app_name), "rules": recording_rules(spec, app_name) + alert_rules(spec, app_name)}
    ]


def rule_file(spec: EnvironmentSpec) -> dict[str, Any]:
    """Every app's groups as one Prometheus rule file, the form promtool reads."""
    return {"groups": [g for app_name in sorted(spec.apps) for g in rule_groups(spec, app_name)]}


def recorded_names() -> set[str]:
    """Every series name the rules record, whatever the spec."""
    names = {LATENCY_THRESHOLD}
    for objective in OBJECTIVES:
        names.add(objective.budget_series)
        names.update(objective.ratio_series(w) for w in WINDOWS)
    return names


def prometheus_rule(spec: EnvironmentSpec, app_name: str) -> Manifest:
    """The app's rules as a PrometheusRule in its own namespace, where its team finds them."""
    return manifest(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        f"{app_name}-slo",
        app_name,
        labels={TEAM_LABEL: spec.apps[app_name].team},
        spec={"groups": rule_groups(spec, app_name)},
    )
