"""The tool manifest, `meridian doctor` and the idempotent installer, on real files and processes."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from meridian import toolchain
from meridian.paths import Repo


def test_doctor_reports_every_pinned_tool_present(run_meridian, repo_root):
    # `make test` runs `make tools` first, so every required tool must be there.
    result = run_meridian("doctor")
    manifest = toolchain.load_manifest(Repo(repo_root))
    for tool in manifest.tools:
        assert tool.name in result.stdout
    assert result.returncode == 0, result.stdout
    assert "all required tools present" in result.stdout


def test_every_go_tool_is_pinned_in_its_go_mod(repo_root):
    repo = Repo(repo_root)
    for tool in toolchain.load_manifest(repo).tools:
        if tool.gomod:
            assert toolchain.pinned_version(repo, tool), f"{tool.name}: {tool.module} not in {tool.gomod}"


def test_every_locked_python_tool_is_in_uv_lock(repo_root):
    repo = Repo(repo_root)
    for tool in toolchain.load_manifest(repo).tools:
        if tool.lock_package:
            assert toolchain.pinned_version(repo, tool), f"{tool.lock_package} missing from uv.lock"


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Repo:
    """A checkout with one tool group whose install script counts its runs and builds a tool."""
    (tmp_path / "Pulumi.yaml").write_text("name: scratch\n")
    (tmp_path / "tools").mkdir()
    (tmp_path / "pins.txt").write_text("demo 1.2.3\n")
    (tmp_path / "tools" / "install.sh").write_text(
        textwrap.dedent("""\
        set -eu
        echo run >> runs.log
        mkdir -p bin
        printf '#!/bin/sh\\necho "demo version %s"\\n' "$(cut -d' ' -f2 pins.txt)" > bin/demo
        chmod +x bin/demo
    """)
    )
    (tmp_path / "tools" / "tools.toml").write_text(
        textwrap.dedent("""\
        [group.demo]
        hint = "run make tools"
        install = ["bash", "tools/install.sh"]
        pins = ["pins.txt"]

        [[tool]]
        name = "demo"
        purpose = "a tool built by the demo group"
        group = "demo"
        pin = "1.2.3"
    """)
    )
    return Repo(tmp_path)


def test_install_runs_a_group_once_then_does_nothing(scratch_repo):
    manifest = toolchain.load_manifest(scratch_repo)
    first = toolchain.install(scratch_repo, manifest)
    second = toolchain.install(scratch_repo, manifest)
    assert first.ran == ["demo"]
    assert second.ran == [] and second.skipped == ["demo"]
    assert (scratch_repo.root / "runs.log").read_text().count("run") == 1
    status = toolchain.probe(scratch_repo, manifest.tools[0])
    assert status.ok and status.found == "1.2.3"


def test_install_runs_again_when_a_pin_changes(scratch_repo):
    manifest = toolchain.load_manifest(scratch_repo)
    toolchain.install(scratch_repo, manifest)
    (scratch_repo.root / "pins.txt").write_text("demo 1.2.4\n")
    again = toolchain.install(scratch_repo, manifest)
    assert again.ran == ["demo"]
    status = toolchain.probe(scratch_repo, manifest.tools[0])
    assert status.found == "1.2.4" and status.problem == "pinned 1.2.3, found 1.2.4"


def test_install_reinstalls_a_deleted_tool(scratch_repo):
    manifest = toolchain.load_manifest(scratch_repo)
    toolchain.install(scratch_repo, manifest)
    shutil.rmtree(scratch_repo.bin_dir)
    assert toolchain.install(scratch_repo, manifest).ran == ["demo"]


def test_doctor_exits_1_and_says_how_to_install_a_missing_tool(run_meridian, scratch_repo):
    result = run_meridian("doctor", cwd=scratch_repo.root)
    assert result.returncode == 1
    assert "missing" in result.stdout
    assert "demo: run make tools" in result.stdout


def test_a_tool_naming_an_unknown_group_is_an_input_error(run_meridian, scratch_repo):
    manifest = scratch_repo.tools_dir / "tools.toml"
    manifest.write_text(manifest.read_text().replace('group = "demo"', 'group = "dmeo"'))
    result = run_meridian("doctor", cwd=scratch_repo.root)
    assert result.returncode == 2
    assert "tool 'demo' names unknown group 'dmeo'" in result.stderr
