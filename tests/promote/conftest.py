"""Fixtures of the promotion suites: a fresh repository with a bare origin for every test, copied
from one built per session (building it costs a few git commands; copying it, a few milliseconds)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from meridian_core.layout import Repo
from promote_world import World, build_template


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("promote-template")
    build_template(path)
    return path


@pytest.fixture
def world(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[World]:
    root = tmp_path / "repo"
    shutil.copytree(template, root, symlinks=True)
    yield World(root, monkeypatch, capsys)


@pytest.fixture
def world_repo(world: World) -> Repo:
    return Repo(world.root)
