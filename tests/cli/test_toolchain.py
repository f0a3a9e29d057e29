"""The tool manifest, `meridian doctor` and the idempotent installer, on real files and processes."""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from meridian_core.errors import RefusedError
from meridian_core.layout import Repo

from meridian import tool_install, toolchain


def test_doctor_reports_every_tool_make_test_installs_present(meridian_cli, repo_root):
    # `make test` installs the groups [needs] lists for `test` first, so each of those must be there.
    result = meridian_cli("doctor", "--for", "test")
    manifest = toolchain.load_manifest(Repo(repo_root))
    for group in manifest.select(None, ["test"]):
        for tool in manifest.members(group):
            assert tool.name in result.stdout
    assert result.returncode == 0, result.stdout
    assert "all required tools present" in result.stdout


def test_doctor_for_a_command_lists_only_the_tools_of_its_groups(meridian_cli):
    result = meridian_cli("doctor", "--for", "lint")
    assert "actionlint" in result.stdout and "shellcheck" in result.stdout
    assert "vault" not in result.stdout and "kube-apiserver" not in result.stdout


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
        install = ["bash", "tools/install.sh", "{tools}"]
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
    first = tool_install.install(scratch_repo, manifest)
    second = tool_install.install(scratch_repo, manifest)
    assert first.ran == ["demo"]
    assert second.ran == [] and second.skipped == ["demo"]
    assert (scratch_repo.root / "runs.log").read_text().count("run") == 1
    status = toolchain.probe(scratch_repo, manifest.tools[0])
    assert status.ok and status.found == "1.2.3"


def test_install_runs_again_when_a_pin_changes(scratch_repo):
    tool_install.install(scratch_repo, toolchain.load_manifest(scratch_repo))
    (scratch_repo.root / "pins.txt").write_text("demo 1.2.4\n")
    manifest_file = scratch_repo.tools_dir / "tools.toml"
    manifest_file.write_text(manifest_file.read_text().replace('pin = "1.2.3"', 'pin = "1.2.4"'))
    manifest = toolchain.load_manifest(scratch_repo)
    assert tool_install.install(scratch_repo, manifest).ran == ["demo"]
    assert toolchain.probe(scratch_repo, manifest.tools[0]).found == "1.2.4"
    assert (scratch_repo.root / "runs.log").read_text().count("run") == 2


def test_install_reinstalls_a_deleted_tool(scratch_repo):
    manifest = toolchain.load_manifest(scratch_repo)
    tool_install.install(scratch_repo, manifest)
    shutil.rmtree(scratch_repo.bin_dir)
    assert tool_install.install(scratch_repo, manifest).ran == ["demo"]


def test_a_missing_tool_names_the_group_that_installs_it(scratch_repo):
    with pytest.raises(RefusedError) as refused:
        toolchain.require_tool(scratch_repo, "demo")
    assert refused.value.hint == "run `meridian tools install --group demo` (or `make tools` for every group)"


def test_doctor_exits_1_and_says_how_to_install_a_missing_tool(meridian_cli, scratch_repo):
    result = meridian_cli("doctor", cwd=scratch_repo.root)
    assert result.returncode == 1
    assert "missing" in result.stdout
    assert "demo: run make tools" in result.stdout


def test_a_tool_naming_an_unknown_group_is_an_input_error(meridian_cli, scratch_repo):
    manifest = scratch_repo.tools_dir / "tools.toml"
    manifest.write_text(manifest.read_text().replace('group = "demo"', 'group = "dmeo"'))
    result = meridian_cli("doctor", cwd=scratch_repo.root)
    assert result.returncode == 2
    assert "tool 'demo' names unknown group 'dmeo'" in result.stderr


def test_every_make_target_installs_groups_the_manifest_knows(repo_root):
    needs = toolchain.load_manifest(Repo(repo_root)).needs
    makefile = (repo_root / "Makefile").read_text()
    used = set(re.findall(r"\btools-([a-z][a-z-]*)\b", makefile)) | set(re.findall(r"--for (\S+)", makefile))
    used -= {"%", "$*"}
    assert used, "the Makefile installs no tools by target"
    assert used <= needs.keys(), f"Makefile asks for {sorted(used - needs.keys())}, not in [needs]"


def test_make_up_and_the_policy_gate_need_only_their_own_groups(repo_root):
    manifest = toolchain.load_manifest(Repo(repo_root))
    # go: bin/opa, the local control plane's policy webhook.
    assert manifest.select(None, ["up"]) == ["python", "go", "kube", "pulumi"]
    gate = {t.name for t in manifest.tools if t.group in manifest.select(None, ["policy"])}
    # helm renders the platform's charts, whose objects the gate checks with the program's own.
    assert gate - {t.name for t in manifest.members("python")} == {
        "conftest",
        "kustomize",
        "gitleaks",
        "checkov",
        "helm",
    }


def test_install_for_an_unknown_command_is_a_usage_error(meridian_cli):
    result = meridian_cli("tools", "install", "--for", "frobnicate")
    assert result.returncode == 2
    assert "no tool needs recorded for: frobnicate" in result.stderr


def _demo_on_path(folder: Path, version: str, monkeypatch) -> Path:
    """A `demo` of `version` in `folder`, put on PATH as a user's own build would be."""
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / "demo"
    tool.write_text(f'#!/bin/sh\necho "demo version {version}"\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return tool


def test_a_tool_on_path_at_its_pin_is_linked_into_bin_and_not_built(scratch_repo, tmp_path, monkeypatch):
    theirs = _demo_on_path(tmp_path / "opt", "1.2.3", monkeypatch)
    report = tool_install.install(scratch_repo, toolchain.load_manifest(scratch_repo))
    assert report.ran == [] and report.skipped == ["demo"]
    assert report.linked == {"demo": str(theirs)}
    assert not (scratch_repo.root / "runs.log").exists()
    assert (scratch_repo.bin_dir / "demo").readlink() == theirs


def test_a_tool_on_path_at_another_version_is_built(scratch_repo, tmp_path, monkeypatch):
    _demo_on_path(tmp_path / "opt", "1.2.2", monkeypatch)
    manifest = toolchain.load_manifest(scratch_repo)
    assert tool_install.install(scratch_repo, manifest).ran == ["demo"]
    assert not (scratch_repo.bin_dir / "demo").is_symlink()
    assert toolchain.probe(scratch_repo, manifest.tools[0]).found == "1.2.3"


def test_the_path_in_meridian_tool_name_is_used(scratch_repo, tmp_path, monkeypatch):
    theirs = tmp_path / "elsewhere" / "my-demo"
    theirs.parent.mkdir()
    theirs.write_text('#!/bin/sh\necho "demo 1.2.3"\n')
    theirs.chmod(0o755)
    monkeypatch.setenv("MERIDIAN_TOOL_DEMO", str(theirs))
    report = tool_install.install(scratch_repo, toolchain.load_manifest(scratch_repo))
    assert report.skipped == ["demo"] and report.linked == {"demo": str(theirs)}
    assert toolchain.require_tool(scratch_repo, "demo") == str(theirs)


def test_a_go_tool_at_its_pinned_module_version_is_reused(tmp_path, repo_root, monkeypatch):
    """The real check: the module version the Go toolchain embedded in a copy of bin/actionlint."""
    built = repo_root / "bin" / "actionlint"
    assert built.is_file(), "bin/actionlint is missing: `meridian tools install --group actionlint`"
    theirs = tmp_path / "opt" / "actionlint"
    theirs.parent.mkdir()
    shutil.copy2(built.resolve(), theirs)
    monkeypatch.setenv("PATH", f"{theirs.parent}{os.pathsep}{os.environ['PATH']}")
    repo = _go_tool_repo(tmp_path / "checkout", repo_root / "tools" / "actionlint" / "go.mod")
    report = tool_install.install(repo, toolchain.load_manifest(repo))
    assert report.linked == {"actionlint": str(theirs)} and report.ran == []
    assert not (repo.root / "runs.log").exists()

    # Pinned one patch release earlier, the same binary no longer counts: the group is built.
    gomod = repo.root / "tools" / "actionlint" / "go.mod"
    gomod.write_text(gomod.read_text().replace("actionlint v1.7.12", "actionlint v1.7.11"))
    (repo.bin_dir / "actionlint").unlink()
    with pytest.raises(RefusedError, match="exit 7"):
        tool_install.install(repo, toolchain.load_manifest(repo))
    assert (repo.root / "runs.log").read_text() == "actionlint\n"


def _go_tool_repo(root: Path, gomod: Path) -> Repo:
    (root / "tools" / "actionlint").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: scratch\n")
    shutil.copy(gomod, root / "tools" / "actionlint" / "go.mod")
    (root / "tools" / "tools.toml").write_text(
        textwrap.dedent("""\
        [group.lint]
        hint = "build it"
        install = ["bash", "-c", "echo \\"$@\\" >> runs.log; exit 7", "build", "{tools}"]
        pins = ["tools/actionlint/go.mod"]

        [[tool]]
        name = "actionlint"
        purpose = "workflow lint"
        group = "lint"
        module = "github.com/rhysd/actionlint"
        gomod = "tools/actionlint/go.mod"
        buildinfo = true
    """)
    )
    return Repo(root)


def test_a_group_built_by_name_builds_only_what_is_not_found(tmp_path, monkeypatch):
    root = tmp_path / "checkout"
    (root / "tools").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: scratch\n")
    (root / "tools" / "build.sh").write_text(
        'echo "$@" >> args.log\nmkdir -p bin\n'
        "for t; do printf '#!/bin/sh\\necho 2.0\\n' > bin/$t; chmod +x bin/$t; done\n"
    )
    (root / "tools" / "tools.toml").write_text(
        textwrap.dedent("""\
        [group.pair]
        hint = "build them"
        install = ["bash", "tools/build.sh", "{tools}"]

        [[tool]]
        name = "left"
        purpose = "one of two"
        group = "pair"
        pin = "2.0"

        [[tool]]
        name = "right"
        purpose = "the other"
        group = "pair"
        pin = "2.0"
    """)
    )
    folder = tmp_path / "opt"
    folder.mkdir()
    (folder / "left").write_text("#!/bin/sh\necho left 2.0\n")
    (folder / "left").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    repo = Repo(root)
    report = tool_install.install(repo, toolchain.load_manifest(repo))
    assert report.ran == ["pair"] and report.linked == {"left": str(folder / "left")}
    assert (root / "args.log").read_text() == "right\n"


def test_install_shows_progress_from_its_log_and_not_module_downloads(scratch_repo):
    script = scratch_repo.tools_dir / "install.sh"
    script.write_text(
        "echo 'go: downloading example.com/x v1.0.0'\necho 'compiled step one'\nsleep 1\n"
        + script.read_text()
    )
    lines: list[str] = []
    tool_install.install(scratch_repo, toolchain.load_manifest(scratch_repo), say=lines.append, tick=0.3)
    assert lines[0].startswith("[1/1] demo: building demo: no cold-build time recorded (log: ")
    progress = [line for line in lines if "so far" in line]
    assert progress and all(line.endswith("; compiled step one") for line in progress)
    assert not [line for line in lines if "go: downloading" in line]
    assert "go: downloading" in (scratch_repo.local_dir / "logs" / "tools-demo.log").read_text()


def test_a_failed_install_names_its_log_and_shows_its_last_lines(scratch_repo):
    (scratch_repo.tools_dir / "install.sh").write_text("echo 'error: no space left'\nexit 3\n")
    with pytest.raises(RefusedError) as failed:
        tool_install.install(scratch_repo, toolchain.load_manifest(scratch_repo))
    assert "failed (exit 3)" in failed.value.message
    assert ".meridian/logs/tools-demo.log" in failed.value.message
    assert failed.value.message.endswith("error: no space left")


def test_an_install_that_leaves_the_wrong_version_fails(scratch_repo):
    (scratch_repo.root / "pins.txt").write_text("demo 9.9.9\n")
    with pytest.raises(RefusedError, match=r"installed, but demo: pinned 1\.2\.3, found 9\.9\.9"):
        tool_install.install(scratch_repo, toolchain.load_manifest(scratch_repo))


def test_the_newest_postgresql_installed_is_found(tmp_path):
    for major in ("15", "16", "9.6"):
        binary = tmp_path / "postgresql" / major / "bin" / "postgres"
        binary.parent.mkdir(parents=True)
        binary.write_text(f"#!/bin/sh\necho 'postgres (PostgreSQL) {major}.4'\n")
        binary.chmod(0o755)
    tool = toolchain.Tool(
        name="postgres",
        purpose="db",
        group="apt",
        version_cmd=("postgres", "--version"),
        required=True,
        pin=None,
        module=None,
        gomod=None,
        lock_package=None,
        path=str(tmp_path / "postgresql" / "*" / "bin" / "postgres"),
        buildinfo=False,
        at_least="15",
    )
    status = toolchain.probe(Repo(tmp_path), tool)
    assert status.location == str(tmp_path / "postgresql" / "16" / "bin" / "postgres")
    assert status.ok and status.found == "16.4"
    old = toolchain.probe(Repo(tmp_path), tool, str(tmp_path / "postgresql" / "9.6" / "bin" / "postgres"))
    assert old.problem == "needs 15 or later, found 9.6.4"
