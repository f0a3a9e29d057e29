"""The environment spec: every environment loads, and every validation rule has a fixture that proves it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from meridian_infra.spec import SpecError, load_environment, load_spec_file
from meridian_infra.spec.schema import schema_text

INVALID = sorted((Path(__file__).parent / "fixtures" / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_environment_spec_loads(repo_root, env):
    spec = load_environment(repo_root / "environments", env)
    assert spec.name == env
    assert {"orders", "inventory"} <= set(spec.apps)


@pytest.mark.parametrize("fixture", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_is_rejected_with_file_field_and_reason(fixture: Path):
    expected = fixture.read_text().splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(SpecError) as caught:
        load_spec_file(fixture)
    message = str(caught.value)
    assert str(fixture) in message
    assert expected in message, message


def test_there_is_a_fixture_per_rule():
    # Renaming or dropping a rule's fixture should be a deliberate act, so count them.
    assert len(INVALID) >= 25


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


def test_published_json_schema_is_current(repo_root):
    committed = (repo_root / "environments" / "platform.schema.json").read_text()
    assert committed == schema_text(), "run `make schema` and commit environments/platform.schema.json"
    assert json.loads(committed)["additionalProperties"] is False


def test_meridian_dev_schema_writes_it_and_its_check_finds_it_stale(meridian_cli, repo_root, tmp_path):
    shutil.copytree(repo_root / "environments", tmp_path / "environments")
    shutil.copy(repo_root / "Pulumi.yaml", tmp_path)
    published = tmp_path / "environments" / "platform.schema.json"
    published.write_text("{}\n")
    root = {"MERIDIAN_ROOT": str(tmp_path)}
    stale = meridian_cli("dev", "schema", "--check", env=root)
    assert stale.returncode == 1
    assert f"{published} is not what the code generates: run `make schema`" in stale.stderr
    assert published.read_text() == "{}\n"  # --check writes nothing
    written = meridian_cli("dev", "schema", env=root)
    assert (written.returncode, written.stdout) == (0, "wrote environments/platform.schema.json\n")
    assert published.read_text() == schema_text()
    assert meridian_cli("dev", "schema", "--check", env=root).returncode == 0


def test_environments_differ_where_real_ones_do(repo_root):
    dev, prod = (load_environment(repo_root / "environments", e) for e in ("dev", "prod"))
    assert not dev.argocd.ha and prod.argocd.ha
    assert dev.argocd.sync.prune and not prod.argocd.sync.prune
    assert prod.apps["orders"].max_replicas > dev.apps["orders"].max_replicas
    assert prod.sizes[prod.apps["orders"].size] != dev.sizes[dev.apps["orders"].size]
