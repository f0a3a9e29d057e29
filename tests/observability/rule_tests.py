"""promtool unit-test documents for the generated SLO rules, built from the story in slo_timeline.

Rule files and tests are written as JSON, which promtool reads as the YAML subset it is.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from meridian_infra.observability import slo
from meridian_infra.spec.models import EnvironmentSpec
from slo_timeline import Story, input_series, other_namespace_failing

ENVS = ("dev", "staging", "prod")
VALUE_TEMPLATE = "{{ $value | humanizePercentage }}"


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def humanize_percentage(share: Decimal) -> str:
    """What Prometheus' humanizePercentage prints: Go's %.4g of the value times 100."""
    return "%.4g%%" % (float(share) * 100)


def expected_alert(
    spec: EnvironmentSpec, app: str, objective: slo.Objective, burn: slo.BurnRate, value: Decimal
) -> dict[str, Any]:
    """The alert as it fires: the rule's labels and annotations, with the long window's ratio filled in."""
    rule = slo.burn_alert(spec, app, objective, burn)
    annotations = dict(rule["annotations"])
    annotations["description"] = annotations["description"].replace(
        VALUE_TEMPLATE, humanize_percentage(value)
    )
    # The recorded ratio brings `namespace`; the rule adds the rest.
    return {"exp_labels": {**rule["labels"], "namespace": app}, "exp_annotations": annotations}


def _bound_spelling(spec: EnvironmentSpec, app: str) -> str:
    """The `le` value an exporter writes for the app's threshold bucket (the plain decimal)."""
    return format(slo.latency_bucket(spec, app).normalize(), "f")


def burn_rate_tests(
    spec: EnvironmentSpec, story: Story, rule_file: str, le: dict[str, str] | None = None
) -> dict[str, Any]:
    """The story played by every app of `spec`: which alerts fire at each checkpoint, and which not.
    `le` overrides how an app's exporter spells its threshold bucket."""
    series: list[dict[str, str]] = []
    for app_name, app in sorted(spec.apps.items()):
        spelling = (le or {}).get(app_name) or _bound_spelling(spec, app_name)
        series += input_series(
            story, app_name, slo.budget(app, slo.AVAILABILITY), slo.budget(app, slo.LATENCY), spelling
        )
    series += other_namespace_failing(story, "0.25")
    alert_tests = []
    for minute in story.ends:
        firing = story.firing(minute)
        for objective in slo.OBJECTIVES:
            expected = []
            for app in sorted(spec.apps):
                for burn in slo.BURN_RATES:
                    if burn.long in firing:
                        value = story.window_burn(minute, burn.long)
                        assert value is not None
                        expected.append(
                            expected_alert(
                                spec, app, objective, burn, value * slo.budget(spec.apps[app], objective)
                            )
                        )
            alert_tests.append(
                {"eval_time": f"{minute}m", "alertname": objective.alert, "exp_alerts": expected}
            )
    return {
        "rule_files": [rule_file],
        "evaluation_interval": f"{story.evaluate_every}m",
        "tests": [
            {
                "interval": f"{story.resolution}m",
                "input_series": series,
                "alert_rule_test": alert_tests,
                "promql_expr_test": ratio_checks(spec, story),
            }
        ],
    }


def ratio_checks(spec: EnvironmentSpec, story: Story) -> list[dict[str, Any]]:
    """The recorded ratios and budgets themselves, after the story's second phase."""
    minute = story.ends[1]
    checks = []
    for objective in slo.OBJECTIVES:
        for window in slo.WINDOWS:
            burn = story.window_burn(minute, window)
            checks.append(
                _rounded_check(
                    objective.ratio_series(window),
                    minute,
                    {app: burn * slo.budget(spec.apps[app], objective) for app in sorted(spec.apps)}
                    if burn is not None
                    else {},
                )
            )
        checks.append(
            _rounded_check(
                objective.budget_series,
                minute,
                {app: slo.budget(spec.apps[app], objective) for app in sorted(spec.apps)},
            )
        )
    return checks


# promtool 2.42 compares sample values exactly, and sums of many float increments are not exact:
# compare billionths, scaled to whole numbers (round()'s own step argument is inexact as well).
SCALE = 10**9


def _rounded_check(series: str, minute: int, values: dict[str, Decimal]) -> dict[str, Any]:
    return {
        "expr": f"round({series} * {SCALE})",
        "eval_time": f"{minute}m",
        "exp_samples": [
            {"labels": f'{{app="{app}",namespace="{app}"}}', "value": float(round(value * SCALE))}
            for app, value in values.items()
        ],
    }
