"""The pieces under the commands: promotion.yaml and its errors, freeze windows, version files,
durations, commit records, and the git wrapper on a real repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from meridian_core.errors import InputError
from meridian_core.git import Git
from meridian_core.snapshot import Revision, WorkingTree
from meridian_core.yamlmodel import load_model
from promote_world import CONFIG, REPO_ROOT, T0, World

from meridian.promote import clock, message
from meridian.promote.config import PromotionConfig, load_config
from meridian.promote.freeze import active_windows
from meridian.promote.history import entries, running_since
from meridian.promote.versions import Pin, parse_image, read_pin, without_version_fields, write_pin


def _config_error(text: str) -> str:
    with pytest.raises(InputError) as caught:
        load_model(PromotionConfig, text, "environments/promotion.yaml")
    return caught.value.message


def test_the_repository_promotion_file_is_valid() -> None:
    config = load_config(WorkingTree(REPO_ROOT))

    assert config.order == ["dev", "staging", "prod"]
    assert config.rules("staging").soak == 24 * 3600
    assert config.rules("prod").require_digest
    assert config.previous("prod") == "staging"
    assert config.previous("dev") is None


def test_promotion_file_errors_point_at_the_line_and_the_field() -> None:
    typo = _config_error(CONFIG.replace("requireDigest: true\n  prod", "requireDigests: true\n  prod"))
    duration = _config_error(CONFIG.replace("soak: 24h", "soak: a day"))
    weekday = _config_error(CONFIG.replace("from: Sat 00:00", "from: Caturday 00:00"))
    order = _config_error(CONFIG.replace("order: [dev, staging, prod]", "order: [dev, qa, staging, prod]"))

    where = "environments/promotion.yaml:8: environments.staging.requireDigests"
    assert f"{where}: unknown field; did you mean 'requireDigest'?" in typo
    assert "(allowed: soak, requireDigest, freeze)" in typo
    assert "environments/promotion.yaml:7: environments.staging.soak: 'a day' is not a duration" in duration
    assert "'Caturday 00:00' is not a day and a time; write it like 'Fri 16:00'" in weekday
    assert "environments lacks qa, which the order names" in order


def test_bundles_and_windows_are_validated() -> None:
    shared = _config_error(
        CONFIG.replace("bundles: {}", "bundles:\n  a: [orders, inventory]\n  b: [orders, x]")
    )
    alone = _config_error(CONFIG.replace("bundles: {}", "bundles:\n  solo: [orders]"))
    zone = _config_error(CONFIG.replace("timezone: UTC", "timezone: Mars/Olympus"))
    backwards = _config_error(
        CONFIG.replace(
            "      weekly:",
            "      dates:\n        - {name: x, from: '2026-12-20 00:00', to: '2026-12-01 00:00', reason: r}\n"
            "      weekly:",
        )
    )

    assert "app 'orders' is in bundles 'a' and 'b'" in shared
    assert "bundle 'solo' needs at least two different apps" in alone
    assert "unknown time zone 'Mars/Olympus'" in zone
    assert "to must be after from" in backwards


def test_weekly_windows_wrap_the_week_and_say_when_they_end() -> None:
    config = load_model(PromotionConfig, CONFIG, "p")
    freeze = config.rules("prod").freeze
    friday = datetime(2026, 6, 5, 23, 59, tzinfo=UTC)
    saturday = datetime(2026, 6, 6, 0, 0, tzinfo=UTC)
    sunday_night = datetime(2026, 6, 7, 23, 59, tzinfo=UTC)
    monday = datetime(2026, 6, 8, 0, 0, tzinfo=UTC)

    assert active_windows(freeze, friday) == []
    [window] = active_windows(freeze, saturday)
    assert (window.name, window.until) == ("weekend", monday)
    assert active_windows(freeze, sunday_night)[0].until == monday
    assert active_windows(freeze, monday) == []


def test_windows_follow_their_time_zone_and_dates() -> None:
    text = """\
order: [prod]
environments:
  prod:
    freeze:
      timezone: Europe/Berlin
      weekly:
        - {name: friday, from: "Fri 16:00", to: "Mon 08:00", reason: weekend}
      dates:
        - {name: year-end, from: "2026-12-18 12:00", to: "2027-01-04 08:00", reason: holidays}
"""
    freeze = load_model(PromotionConfig, text, "p").rules("prod").freeze
    # 15:30 UTC on a Friday in June is 17:30 in Berlin (UTC+2): frozen until Monday 06:00 UTC.
    [summer] = active_windows(freeze, datetime(2026, 6, 5, 15, 30, tzinfo=UTC))
    assert summer.until == datetime(2026, 6, 8, 6, 0, tzinfo=UTC)
    assert active_windows(freeze, datetime(2026, 6, 5, 13, 30, tzinfo=UTC)) == []
    # A Wednesday in the year-end window: only the dated window is open; it ends 07:00 UTC.
    [dated] = active_windows(freeze, datetime(2026, 12, 30, 12, 0, tzinfo=UTC))
    assert (dated.name, dated.until) == ("year-end", datetime(2027, 1, 4, 7, 0, tzinfo=UTC))


def test_durations_read_and_print_as_people_write_them(monkeypatch: pytest.MonkeyPatch) -> None:
    assert clock.parse_duration("1h30m") == 5400
    assert clock.parse_duration("2d") == 172800
    assert clock.format_duration(90061) == "1d 1h"
    assert clock.format_duration(-5) == "0s"
    with pytest.raises(ValueError, match="is not a duration"):
        clock.parse_duration("90")
    monkeypatch.setenv("MERIDIAN_NOW", "2026-06-03T12:00:00")
    assert clock.now() == datetime(2026, 6, 3, 12, 0, tzinfo=UTC)
    monkeypatch.setenv("MERIDIAN_NOW", "next tuesday")
    with pytest.raises(InputError, match="not an ISO 8601 time"):
        clock.now()


def test_version_files_keep_their_comments_and_quote_the_label() -> None:
    path = REPO_ROOT / "environments" / "prod" / "apps" / "orders" / "version.yaml"
    text = path.read_text()
    pin = read_pin(text, "orders", str(path))

    assert write_pin(text, "orders", pin, str(path)) == text
    moved = write_pin(text, "orders", Pin(pin.repository, "1.10", None, "1.10"), str(path))
    assert moved.splitlines()[0] == text.splitlines()[0]
    assert 'app.kubernetes.io/version: "1.10"' in moved
    assert "image: ghcr.io/meridian-platform/orders:1.10\n" in moved
    assert without_version_fields(moved, "orders", "x") == without_version_fields(text, "orders", "x")
    assert parse_image("registry:5000/team/app:1.2@sha256:ab") == (
        "registry:5000/team/app",
        "1.2",
        "sha256:ab",
    )
    assert parse_image("registry:5000/app") == ("registry:5000/app", "", None)
    with pytest.raises(InputError, match="no container named 'orders'"):
        read_pin("spec: {template: {spec: {containers: [{name: a}, {name: b}]}}}", "orders", "x.yaml")


def test_commit_records_group_trailers_by_app() -> None:
    block = message.trailer_block(
        [
            (message.KIND, "promotion"),
            (message.TO, "prod"),
            (message.BUNDLE, "commerce"),
            (message.EMERGENCY, "a\nb"),
        ],
        [
            [(message.APP, "orders"), (message.VERSION, "2")],
            [(message.APP, "inventory"), (message.VERSION, "3")],
        ],
    )
    pairs = [tuple(line.split(": ", 1)) for line in block.splitlines()]
    found = message.records(pairs)  # type: ignore[arg-type]

    assert "Meridian-Emergency: a b" in block  # one line: a reason cannot forge another trailer
    assert [(r.app, r.version, r.bundle, r.to) for r in found] == [
        ("orders", "2", "commerce", "prod"),
        ("inventory", "3", "commerce", "prod"),
    ]
    assert message.records([("Signed-off-by", "x")]) == []


def test_landing_time_is_the_merge_and_the_record_is_the_merged_commit(world: World) -> None:
    # A branch commit typed on Monday, merged on Wednesday: the version runs since Wednesday.
    world.git("switch", "--quiet", "-c", "feature")
    typed = T0 + timedelta(days=7)
    merged = typed + timedelta(days=2)
    path = world.root / "environments" / "staging" / "apps" / "orders" / "version.yaml"
    path.write_text(path.read_text().replace('"1.0.0"', '"1.0.1"').replace("orders:1.0.0@", "orders:1.0.1@"))
    world.git(
        "commit",
        "--quiet",
        "-am",
        "bump\n\nMeridian-Kind: promotion\nMeridian-To: staging\nMeridian-App: orders",
        when=typed,
    )
    world.git("switch", "--quiet", "main")
    world.merge("feature", when=merged)

    repo_git = Git(world.root)
    history = entries(repo_git, "HEAD", "staging", "orders")

    assert [e.time for e in history] == [merged, T0]
    assert history[0].kind == "promotion"
    assert history[0].commit.is_merge
    assert running_since(history, history[0].pin) == merged  # type: ignore[arg-type]


def test_the_git_wrapper_reads_blobs_refs_and_dirt(world: World) -> None:
    repo_git = Git(world.root)
    head = repo_git.require_rev("HEAD")

    blobs = repo_git.read_many([f"{head}:Pulumi.yaml", f"{head}:nope", f"{head}:environments"])
    assert blobs[0] == (world.root / "Pulumi.yaml").read_bytes()
    assert blobs[1:] == [None, None]
    assert Revision(repo_git, "HEAD").apps("prod") == ["inventory", "orders"]
    repo_git.create_branch("promote/x/prod/1", head)
    with pytest.raises(Exception, match="update-ref"):
        repo_git.create_branch("promote/x/prod/1", head)
    (world.root / "environments" / "new.txt").write_text("x")
    assert repo_git.dirty_paths(["environments"]) == ["environments/new.txt"]
    assert repo_git.dirty_paths(["apps"]) == []
    with pytest.raises(InputError, match="no such commit"):
        repo_git.require_rev("does-not-exist")


def test_outside_a_repository_the_error_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a git repository"):
        Git(tmp_path).require_repository()
