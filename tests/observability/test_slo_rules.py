"""The SLO rules of every environment, checked and unit-tested by the real promtool.

promtool replays crafted request histories (slo_timeline) through the generated recording rules and
alerts and compares what fires, with which labels and annotations, at each checkpoint.
"""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest
import rule_tests
from meridian_core import durations
from meridian_infra.observability import slo
from meridian_infra.observability.stack import alertmanager_config
from meridian_infra.spec import SpecError
from meridian_infra.spec.loader import load_environment
from meridian_infra.spec.models import EnvironmentSpec
from rule_tests import ENVS
from slo_timeline import FIRES, HELD_BY_LONG, HELD_BY_SHORT, PAIRS, STORIES, Story


def _with_slo(spec: EnvironmentSpec, **slo_fields: object) -> EnvironmentSpec:
    """The spec with every app's SLO changed as given."""
    apps = {
        name: app.model_copy(update={"slo": app.slo.model_copy(update=slo_fields)})
        for name, app in spec.apps.items()
    }
    return spec.model_copy(update={"apps": apps})


def _run_stories(promtool, tmp_path, spec: EnvironmentSpec, le: dict[str, str] | None = None):
    rule_tests.write(tmp_path / "rules.json", slo.rule_file(spec))
    files = [
        rule_tests.write(
            tmp_path / f"{story.name}.json", rule_tests.burn_rate_tests(spec, story, "rules.json", le)
        )
        for story in STORIES
    ]
    return promtool("test", "rules", *files, cwd=tmp_path)


@pytest.mark.parametrize("env", ENVS)
def test_rules_pass_promtool_check(specs, promtool, tmp_path, env):
    rules = rule_tests.write(tmp_path / "rules.json", slo.rule_file(specs[env]))
    checked = promtool("check", "rules", rules)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # 3 constant series and 2 ratios x 7 windows recorded, 2 objectives x 4 burn rates alerting, per app
    assert f"SUCCESS: {len(specs[env].apps) * (3 + 14 + 8)} rules found" in checked.stdout


@pytest.mark.parametrize("env", ENVS)
def test_alerts_fire_and_hold_back_as_each_story_says(specs, promtool, tmp_path, env):
    result = _run_stories(promtool, tmp_path, specs[env])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(STORIES)


@pytest.mark.parametrize("story", STORIES, ids=lambda s: s.name)
def test_each_story_shows_what_it_claims_with_wide_margins(story: Story):
    for phase, demos in story.demos.items():
        for demo in demos:
            assert story.state(story.ends[phase], demo.pair) == demo.state, (story.name, phase, demo)
    assert story.closest_margin() >= Decimal("0.04")
    assert all(end % story.evaluate_every == 0 for end in story.ends)


def test_together_the_stories_show_every_pair_firing_and_held_back_by_either_window():
    shown = {(demo.pair, demo.state) for story in STORIES for demos in story.demos.values() for demo in demos}
    for pair in PAIRS:
        assert {(pair, FIRES), (pair, HELD_BY_SHORT), (pair, HELD_BY_LONG)} <= shown, pair


@pytest.mark.parametrize(
    "mistake",
    [
        pytest.param(("ERROR_CODES", (*slo.ERROR_CODES, "InvalidArgument")), id="counting-client-errors"),
        pytest.param(("NOT_THE_API", 'grpc_service=~".+"'), id="counting-health-checks"),
    ],
)
def test_the_stories_catch_rules_counting_what_they_must_not(specs, promtool, tmp_path, monkeypatch, mistake):
    monkeypatch.setattr(slo, *mistake)
    result = _run_stories(promtool, tmp_path, specs["dev"])
    assert result.returncode != 0
    # The alerts themselves go wrong, not only the recorded ratios.
    assert "alertname: GrpcErrorBudgetBurn" in result.stderr


def test_a_whole_second_threshold_reads_the_bucket_however_each_exporter_spells_it(specs, promtool, tmp_path):
    spec = _with_slo(specs["dev"], latency_threshold="1s")
    # client_golang (orders) writes le="1", prometheus_client (inventory) le="1.0"
    result = _run_stories(promtool, tmp_path, spec, le={"orders": "1", "inventory": "1.0"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_threshold_between_buckets_is_refused_when_the_spec_is_read(repo_root, tmp_path):
    # Refused with every other spec error (meridian validate, render, policy check, pulumi up),
    # never halfway through declaring resources. The message itself: tests/infra/fixtures/invalid-app.
    shutil.copytree(repo_root / "environments" / "dev", tmp_path / "environments" / "dev")
    for app in ("inventory", "orders"):
        (tmp_path / "apps" / app).mkdir(parents=True)
        shutil.copy2(repo_root / "apps" / app / "app.yaml", tmp_path / "apps" / app / "app.yaml")
    contract = tmp_path / "apps" / "orders" / "app.yaml"
    contract.write_text(contract.read_text().replace("latencyThreshold: 250ms", "latencyThreshold: 2s"))
    with pytest.raises(SpecError, match=r"app\.yaml:\d+: slo\.latencyThreshold: 2s is not an upper bound"):
        load_environment(tmp_path / "environments", "dev")


@pytest.mark.parametrize(
    ("text", "seconds"), [("250ms", "0.25"), ("1s", "1"), ("1s500ms", "1.5"), ("2m", "120")]
)
def test_durations_read_as_prometheus_writes_them(text, seconds):
    assert durations.seconds(text) == Decimal(seconds)


@pytest.mark.parametrize("env", ENVS)
def test_every_alert_names_severity_app_environment_and_a_runbook_in_this_repository(specs, repo_root, env):
    spec = specs[env]
    for app_name in spec.apps:
        alerts = slo.alert_rules(spec, app_name)
        assert {(a["alert"], a["labels"]["long_window"]) for a in alerts} == {
            (o.alert, b.long) for o in slo.OBJECTIVES for b in slo.BURN_RATES
        }
        for alert in alerts:
            labels = alert["labels"]
            assert labels["severity"] in {"page", "ticket"}
            assert (labels["app"], labels["environment"]) == (app_name, env)
            url = alert["annotations"]["runbook_url"]
            assert url.startswith("https://github.com/meridian-platform/meridian/blob/main/docs/runbooks/")
            assert (repo_root / "docs" / "runbooks" / url.rsplit("/", 1)[1]).is_file(), url


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_alertmanager_routes_every_severity_the_alerts_carry(specs, env):
    spec = specs[env]
    routes = alertmanager_config(spec, {})["route"]["routes"]
    severities = {a["labels"]["severity"] for app in spec.apps for a in slo.alert_rules(spec, app)}
    for severity in severities:
        matched = [r for r in routes if any(f'"{severity}|' in m for m in r["matchers"])]
        assert matched and matched[0]["receiver"] not in {"unrouted", "null"}, severity
