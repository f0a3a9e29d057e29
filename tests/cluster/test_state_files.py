"""A cluster state folder's files: where each lives, and what reading one back does when it was never
written or was damaged (real files in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from meridian_core.errors import InputError
from meridian_core.layout import Below

from meridian.cluster.egress import EgressFiles
from meridian.cluster.gitops_components import GitOpsLayout, GitOpsPorts, GitOpsSettings
from meridian.cluster.layout import ClusterDir, Ports, Settings
from meridian.cluster.policy_webhook import DEFAULT_ENVIRONMENT, WebhookFiles


def test_every_place_is_inside_the_state_folder_and_none_is_shared(tmp_path: Path):
    dirs = ClusterDir(tmp_path)
    owners = (dirs, GitOpsLayout(dirs), WebhookFiles(dirs), EgressFiles(dirs))
    places = [
        getattr(owner, name)
        for owner in owners
        for name, declared in vars(type(owner)).items()
        if isinstance(declared, Below)
    ]
    assert len(places) == 18
    assert len(set(places)) == len(places)
    assert all(place.is_relative_to(tmp_path) for place in places)
    assert GitOpsLayout(dirs).served_repo == tmp_path / "gitops" / "git" / "meridian.git"


def test_settings_written_are_read_back_and_none_before_the_first_write(tmp_path: Path):
    dirs = ClusterDir(tmp_path / "cluster")
    assert dirs.read_settings() is None
    settings = Settings(Ports(*Ports.DEFAULTS), "10.96.0.0/16", 2)
    dirs.write_settings(settings)
    assert dirs.read_settings() == settings


def test_gitops_settings_written_are_read_back(tmp_path: Path):
    layout = GitOpsLayout(ClusterDir(tmp_path))
    assert layout.read_settings() is None
    settings = GitOpsSettings(GitOpsPorts.from_base(20000), 15)
    layout.root.mkdir(parents=True)
    layout.settings_file.write_text(settings.to_json())
    assert layout.read_settings() == settings


@pytest.mark.parametrize("damage", ["{not json", '{"ports": {}}', "[]"])
def test_a_damaged_settings_file_is_named_with_how_to_start_again(tmp_path: Path, damage: str):
    dirs = ClusterDir(tmp_path)
    dirs.settings_file.write_text(damage)
    with pytest.raises(InputError) as raised:
        dirs.read_settings()
    assert str(dirs.settings_file) in str(raised.value)
    assert "meridian cluster down --local --purge" in (raised.value.hint or "")


def test_the_webhook_serves_dev_until_told_otherwise_and_refuses_a_damaged_choice(tmp_path: Path):
    files = WebhookFiles(ClusterDir(tmp_path))
    assert files.environment() == DEFAULT_ENVIRONMENT
    files.folder.mkdir(parents=True)
    files.settings.write_text('{"environment": "staging"}')
    assert files.environment() == "staging"
    files.settings.write_text('{"env": "staging"}')
    with pytest.raises(InputError, match=r"admission\.json is unreadable"):
        files.environment()
