"""`meridian promote check BASE..HEAD`: promotions made by the CLI pass; hand-written changes are
held to the same rules, read from BASE, at the time of the check."""

from __future__ import annotations

from datetime import timedelta

from promote_world import CONFIG, FAST, NOW, SATURDAY, T0, T1, World, synthetic_digest

ORDERS = "environments/{env}/apps/orders/version.yaml"


def _hand_written(
    world: World, branch: str, edits: dict[str, tuple[str, str]], message: str = "by hand"
) -> None:
    """A branch off main whose one commit replaces text in files, as a person would in an editor."""
    world.git("switch", "--quiet", "-c", branch)
    for path, (old, new) in edits.items():
        file = world.root / path
        text = file.read_text()
        assert old in text, f"{old!r} not in {path}"
        file.write_text(text.replace(old, new))
    world.git("commit", "--quiet", "-am", message, when=NOW - timedelta(hours=1))
    world.git("switch", "--quiet", "main")


def _bump(world: World, env: str, app: str, old: str, new: str) -> dict[str, tuple[str, str]]:
    path = f"environments/{env}/apps/{app}/version.yaml"
    text = (world.root / path).read_text()
    replaced = text.replace(f'"{old}"', f'"{new}"').replace(
        f":{old}@{synthetic_digest(app, old)}", f":{new}@{synthetic_digest(app, new)}"
    )
    return {path: (text, replaced)}


def test_a_promotion_made_by_the_cli_passes(world: World) -> None:
    assert world.cli("promote", "orders", "--to", "staging", *FAST).code == 0

    result = world.cli("promote", "check", "main..promote/orders/staging/1.1.0", *FAST)

    assert result.code == 0, result.output
    assert "promotion of orders 1.0.0 → 1.1.0 in staging" in result.stdout
    assert "policy gate: staging: passed" in result.stdout


def test_a_change_outside_environments_or_of_settings_is_not_a_promotion(world: World) -> None:
    _hand_written(
        world, "settings", {"environments/prod/apps/orders/settings.yaml": ("replicas: 3", "replicas: 4")}
    )

    result = world.cli("promote", "check", "main..settings", *FAST)

    assert result.code == 0
    assert "not a promotion: 1 file(s) under environments/ change, no app's version" in result.stdout


def test_a_version_upstream_does_not_run_is_refused(world: World) -> None:
    _hand_written(world, "jump", _bump(world, "staging", "orders", "1.0.0", "2.0.0"))

    result = world.cli("promote", "check", "main..jump", *FAST)

    assert result.code == 1
    assert "not a legal promotion" in result.stderr
    assert "MER-PROMO-002" in result.stderr
    assert "orders 2.0.0 is not running in dev (it runs 1.1.0)" in result.stderr


def test_two_environments_and_settings_in_one_change_are_refused(world: World) -> None:
    edits = _bump(world, "staging", "orders", "1.0.0", "1.1.0")
    edits |= _bump(world, "prod", "inventory", "1.0.0", "1.1.0")
    edits["environments/staging/apps/orders/settings.yaml"] = ("replicas: 2", "replicas: 3")
    _hand_written(world, "mixed", edits)

    result = world.cli("promote", "check", "main..mixed", *FAST)

    assert result.code == 1
    assert (
        "MER-PROMO-010 more than one target environment: the change moves versions in prod, staging"
        in result.stderr
    )
    assert "MER-PROMO-011 change beyond version fields" in result.stderr
    assert "environments/staging/apps/orders/settings.yaml" in result.stderr


def test_other_fields_of_version_yaml_count_as_beyond_the_version(world: World) -> None:
    edits = _bump(world, "staging", "orders", "1.0.0", "1.1.0")
    path, (old, new) = next(iter(edits.items()))
    edits[path] = (
        old,
        new.replace("name: orders\nspec:", "name: orders\n  annotations: {sneaky: yes}\nspec:"),
    )
    _hand_written(world, "sneaky", edits)

    result = world.cli("promote", "check", "main..sneaky", *FAST)

    assert result.code == 1
    assert f"{path} (fields beside the version)" in result.stderr


def test_a_label_that_disagrees_with_the_image_is_refused(world: World) -> None:
    path = ORDERS.format(env="staging")
    _hand_written(world, "label", {path: ('"1.0.0"', '"1.1.0"')})

    result = world.cli("promote", "check", "main..label", *FAST)

    assert result.code == 1
    assert "MER-PROMO-012" in result.stderr


def test_the_rules_come_from_base_not_from_the_change(world: World) -> None:
    # The change relaxes dev's soak time and promotes at once: BASE's 1h still applies.
    edits = _bump(world, "staging", "orders", "1.0.0", "1.1.0")
    edits["environments/promotion.yaml"] = (CONFIG, CONFIG.replace("soak: 1h", "soak: 0s"))
    _hand_written(world, "relaxed", edits)

    result = world.cli("promote", "check", "main..relaxed", *FAST, now=T1 + timedelta(minutes=5))

    assert result.code == 1
    assert "MER-PROMO-003" in result.stderr
    assert "MER-PROMO-011" in result.stderr


def test_rules_are_judged_at_check_time_and_honour_recorded_overrides(world: World) -> None:
    world.set_version("staging", "orders", "1.1.0", when=NOW - timedelta(days=2))
    assert world.cli("promote", "orders", "--to", "prod", *FAST).code == 0
    emergency = ("promote", "orders", "--to", "prod", "--emergency", "hotfix", "--supersede", *FAST)
    branch = "main..promote/orders/prod/1.1.0"

    on_wednesday = world.cli("promote", "check", branch, *FAST)
    on_saturday = world.cli("promote", "check", branch, *FAST, now=SATURDAY)
    assert world.cli(*emergency, now=SATURDAY).code == 0
    with_reason = world.cli("promote", "check", branch, *FAST, now=SATURDAY)

    assert on_wednesday.code == 0, on_wednesday.output
    assert on_saturday.code == 1
    assert "MER-PROMO-004 freeze window" in on_saturday.stderr
    assert with_reason.code == 0, with_reason.output


def test_a_rollback_made_by_the_cli_passes(world: World) -> None:
    assert world.cli("promote", "orders", "--to", "staging", *FAST).code == 0
    world.merge("promote/orders/staging/1.1.0", when=NOW - timedelta(days=1))
    assert world.cli("rollback", "orders", "--env", "staging", *FAST).code == 0

    result = world.cli("promote", "check", "main..rollback/orders/staging/1.0.0", *FAST)

    assert result.code == 0, result.output
    assert "rollback of orders 1.1.0 → 1.0.0 in staging" in result.stdout


def test_a_partial_bundle_is_refused(world: World) -> None:
    world.write_config(CONFIG.replace("bundles: {}", "bundles:\n  commerce: [orders, inventory]"), when=T0)
    _hand_written(world, "half", _bump(world, "staging", "orders", "1.0.0", "1.1.0"))

    result = world.cli("promote", "check", "main..half", *FAST)

    assert result.code == 1
    assert "MER-PROMO-013 bundle split: orders is in bundle commerce" in result.stderr
    assert "inventory must move with it" in result.stderr


def test_a_bad_range_is_a_usage_error(world: World) -> None:
    result = world.cli("promote", "check", "nowhere..main")

    assert result.code == 2
    assert "no such commit: 'nowhere'" in result.stderr
