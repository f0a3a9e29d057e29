"""The environment spec (platform.yaml, each app's contract and its overlay's sizing): every
environment loads, and every validation rule has a fixture that proves it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from meridian_infra.spec import (
    SpecError,
    load_contract_file,
    load_environment,
    load_settings_file,
    load_spec_file,
)
from meridian_infra.spec.schema import schema_text

FIXTURES = Path(__file__).parent / "fixtures"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
INVALID_CONTRACTS = sorted((FIXTURES / "invalid-app").glob("*.yaml"))
INVALID_SETTINGS = sorted((FIXTURES / "invalid-settings").glob("*.yaml"))  # of the app orders


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_environment_spec_loads(repo_root, env):
    spec = load_environment(repo_root / "environments", env)
    assert spec.name == env
    assert {"orders", "inventory"} <= set(spec.apps)


def _expect_rejected(load, fixture: Path) -> None:
    expected = fixture.read_text().splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(SpecError) as caught:
        load(fixture)
    message = str(caught.value)
    assert str(fixture) in message
    assert expected in message, message


@pytest.mark.parametrize("fixture", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_is_rejected_with_file_field_and_reason(fixture: Path):
    _expect_rejected(load_spec_file, fixture)


@pytest.mark.parametrize("fixture", INVALID_CONTRACTS, ids=[p.stem for p in INVALID_CONTRACTS])
def test_invalid_contract_is_rejected_with_file_field_and_reason(fixture: Path):
    _expect_rejected(load_contract_file, fixture)


@pytest.mark.parametrize("fixture", INVALID_SETTINGS, ids=[p.stem for p in INVALID_SETTINGS])
def test_invalid_settings_are_rejected_with_file_object_field_and_reason(fixture: Path):
    _expect_rejected(lambda path: load_settings_file(path, "orders"), fixture)


def test_there_is_a_fixture_per_rule():
    # Renaming or dropping a rule's fixture should be a deliberate act, so count them.
    assert len(INVALID) >= 21
    assert len(INVALID_CONTRACTS) >= 8
    assert len(INVALID_SETTINGS) >= 9


def test_a_platform_yaml_that_still_lists_apps_or_sizes_says_where_they_are_now(repo_root, tmp_path):
    spec = tmp_path / "platform.yaml"
    old = "sizes:\n  small: {cpuRequest: 50m}\napps:\n  orders: {team: commerce, maxReplicas: 2}\n"
    spec.write_text((repo_root / "environments/dev/platform.yaml").read_text() + old)
    with pytest.raises(SpecError) as caught:
        load_spec_file(spec)
    problems = {p.path: p.message for p in caught.value.problems}
    assert "apps/<app>/app.yaml" in problems["apps"] and "settings.yaml" in problems["apps"]
    assert "settings.yaml" in problems["sizes"]


def checkout(repo_root: Path, dest: Path, env: str = "dev") -> Path:
    """The files an environment is read from, copied: its platform.yaml, its overlays' settings and
    every app's contract."""
    shutil.copytree(repo_root / "environments" / env, dest / "environments" / env)
    for contract in (repo_root / "apps").glob("*/app.yaml"):
        (dest / "apps" / contract.parent.name).mkdir(parents=True)
        shutil.copy2(contract, dest / "apps" / contract.parent.name / "app.yaml")
    return dest


def test_a_call_to_an_app_the_environment_does_not_run_names_the_contract_line(repo_root, tmp_path):
    root = checkout(repo_root, tmp_path)
    contract = root / "apps" / "orders" / "app.yaml"
    contract.write_text(contract.read_text().replace("calls: [inventory]", "calls: [inventory, payments]"))
    with pytest.raises(SpecError) as caught:
        load_environment(root / "environments", "dev")
    (problem,) = caught.value.problems
    assert caught.value.file == contract
    assert problem.path == "calls.1"
    assert "names 'payments', which does not run in this environment (its apps: inventory, orders)" in (
        problem.message
    )
    assert contract.read_text().splitlines()[problem.line - 1].startswith("calls:")


def test_an_app_that_calls_itself_is_refused(repo_root, tmp_path):
    root = checkout(repo_root, tmp_path)
    contract = root / "apps" / "orders" / "app.yaml"
    contract.write_text(contract.read_text().replace("calls: [inventory]", "calls: [orders]"))
    with pytest.raises(SpecError, match=r"app\.yaml:\d+: calls\.0: names the app itself"):
        load_environment(root / "environments", "dev")


def test_an_app_named_like_a_platform_namespace_is_refused(repo_root, tmp_path):
    root = checkout(repo_root, tmp_path)
    shutil.copytree(root / "environments/dev/apps/orders", root / "environments/dev/apps/vault")
    settings = root / "environments/dev/apps/vault/settings.yaml"
    settings.write_text(settings.read_text().replace("orders", "vault"))
    shutil.copytree(root / "apps/orders", root / "apps/vault")
    with pytest.raises(SpecError, match="vault is both an app and a platform namespace"):
        load_environment(root / "environments", "dev")


def test_an_overlay_without_a_contract_or_settings_is_refused_naming_the_missing_file(repo_root, tmp_path):
    root = checkout(repo_root, tmp_path)
    (root / "apps" / "inventory" / "app.yaml").unlink()
    with pytest.raises(SpecError, match=r"apps/inventory/app\.yaml: .*missing: inventory runs in dev"):
        load_environment(root / "environments", "dev")
    shutil.copy2(repo_root / "apps/inventory/app.yaml", root / "apps/inventory/app.yaml")
    (root / "environments/dev/apps/inventory/settings.yaml").unlink()
    with pytest.raises(SpecError, match=r"dev/apps/inventory/settings\.yaml: .*missing: this file gives"):
        load_environment(root / "environments", "dev")


def test_the_apps_of_an_environment_are_its_overlay_folders(repo_root, tmp_path):
    root = checkout(repo_root, tmp_path)
    assert set(load_environment(root / "environments", "dev").apps) == {"inventory", "orders"}
    # Without inventory's overlay, dev runs orders alone, and orders' call to inventory has no target.
    shutil.rmtree(root / "environments/dev/apps/inventory")
    with pytest.raises(SpecError, match="names 'inventory', which does not run in this environment"):
        load_environment(root / "environments", "dev")


def test_a_typo_names_the_line_and_suggests_the_key(repo_root, tmp_path):
    broken = tmp_path / "platform.yaml"
    broken.write_text((repo_root / "environments/dev/platform.yaml").read_text().replace("  mtu:", "  mut:"))
    with pytest.raises(SpecError) as caught:
        load_spec_file(broken)
    (problem,) = [p for p in caught.value.problems if p.path == "network.mut"]
    assert "did you mean 'mtu'?" in problem.message
    assert "allowed: encapsulation, mtu, ipvsScheduler, databaseCIDRs, apiServerCIDRs" in problem.message
    line = broken.read_text().splitlines()[problem.line - 1]
    assert line.strip().startswith("mut:")


def test_an_environment_whose_name_differs_from_its_folder_is_rejected(tmp_path, repo_root):
    (tmp_path / "qa").mkdir()
    (tmp_path / "qa" / "platform.yaml").write_text((repo_root / "environments/dev/platform.yaml").read_text())
    with pytest.raises(SpecError, match="is 'dev' but the folder is 'qa'"):
        load_environment(tmp_path, "qa")


def test_an_unknown_environment_lists_the_known_ones(repo_root):
    with pytest.raises(SpecError, match="no such environment 'qa'; known: dev, prod, staging"):
        load_environment(repo_root / "environments", "qa")


@pytest.mark.parametrize(
    ("kind", "path"), [("platform", "environments/platform.schema.json"), ("app", "apps/app.schema.json")]
)
def test_published_json_schema_is_current(repo_root, kind, path):
    committed = (repo_root / path).read_text()
    assert committed == schema_text(kind), f"run `make schema` and commit {path}"
    assert json.loads(committed)["additionalProperties"] is False


def test_meridian_dev_schema_writes_it_and_its_check_finds_it_stale(meridian_cli, repo_root, tmp_path):
    shutil.copytree(repo_root / "environments", tmp_path / "environments")
    shutil.copy(repo_root / "Pulumi.yaml", tmp_path)
    published = tmp_path / "environments" / "platform.schema.json"
    published.write_text("{}\n")
    contracts = tmp_path / "apps" / "app.schema.json"  # not there yet
    root = {"MERIDIAN_ROOT": str(tmp_path)}
    stale = meridian_cli("dev", "schema", "--check", env=root)
    assert stale.returncode == 1
    for path in (published, contracts):
        assert f"{path} is not what the code generates: run `make schema`" in stale.stderr
    assert published.read_text() == "{}\n" and not contracts.exists()  # --check writes nothing
    written = meridian_cli("dev", "schema", env=root)
    assert (written.returncode, written.stdout) == (
        0,
        "wrote environments/platform.schema.json\nwrote apps/app.schema.json\n",
    )
    assert published.read_text() == schema_text("platform")
    assert contracts.read_text() == schema_text("app")
    assert meridian_cli("dev", "schema", "--check", env=root).returncode == 0


def test_environments_differ_where_real_ones_do(repo_root):
    dev, prod = (load_environment(repo_root / "environments", e) for e in ("dev", "prod"))
    assert not dev.argocd.ha and prod.argocd.ha
    assert dev.argocd.sync.prune and not prod.argocd.sync.prune
    assert prod.apps["orders"].sizing.max_replicas > dev.apps["orders"].sizing.max_replicas
    assert prod.apps["orders"].sizing.container != dev.apps["orders"].sizing.container
    assert prod.apps["orders"].calls == dev.apps["orders"].calls == ["inventory"]
