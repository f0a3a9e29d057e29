"""The CLI's contract with its users: version, help, usage errors and the shared exit codes.

These run `meridian` in process (`meridian_cli`); one test runs it as a separate process, as a
user does, so the entry point itself stays covered.
"""

import re

from meridian import __version__


def test_version_prints_the_package_version(run_meridian):
    result = run_meridian("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"meridian {__version__}"


def _documented_commands(readme: str) -> set[str]:
    """Every command in the first column of README's table of `meridian` commands: `meridian X …`,
    and the bare words after it (`meridian up ENV` / `preview` / `destroy`)."""
    section = readme.split("## The `meridian` command", 1)[1].split("\n## ", 1)[0]
    cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `meridian")]
    return {name for cell in cells for name in re.findall(r"`(?:meridian )?([a-z][a-z-]*)[` ]", cell)}


def test_help_lists_every_command_the_readme_documents_and_no_other(meridian_cli, repo_root):
    result = meridian_cli("--help")
    assert result.returncode == 0
    commands_panel = result.stdout.split("Commands", 1)[1]
    listed = set(re.findall(r"^│ ([a-z-]+) ", commands_panel, re.MULTILINE))
    documented = _documented_commands((repo_root / "README.md").read_text())
    assert len(documented) >= 18
    assert listed == documented


def test_every_command_has_its_own_help(meridian_cli, repo_root):
    for command in sorted(_documented_commands((repo_root / "README.md").read_text())):
        result = meridian_cli(command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert "Usage:" in result.stdout and command in result.stdout.split("\n", 3)[1]


def test_unknown_command_is_a_usage_error(meridian_cli):
    result = meridian_cli("frobnicate")
    assert result.returncode == 2
    assert "No such command 'frobnicate'" in result.stderr
    assert "Traceback" not in result.stderr


def test_outside_a_checkout_the_error_says_where_it_looked(meridian_cli, tmp_path):
    result = meridian_cli("doctor", cwd=tmp_path, env={"MERIDIAN_ROOT": ""})
    assert result.returncode == 2
    assert f"no Meridian checkout found at or above {tmp_path}" in result.stderr
    assert "Traceback" not in result.stderr
