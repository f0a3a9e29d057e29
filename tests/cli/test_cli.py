"""The CLI's contract with its users: version, help, usage errors and the shared exit codes.

These run `meridian` in process (`meridian_cli`); one test runs it as a separate process, as a
user does, so the entry point itself stays covered.
"""

import re
import shlex
from collections.abc import Iterator
from typing import Any

import typer

from meridian import __version__, cli
from meridian.commands.options import Checker
from meridian.policy import gate


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


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group under `group`, with the words that run it."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


def _examples(help_text: str) -> list[list[str]]:
    """The words after `meridian` of each command line under `Examples` at the end of a --help,
    without comments, environment settings or the options every command takes (-v, -q)."""
    section = help_text.split("Examples", 1)[1] if "Examples" in help_text else ""
    lines = [line.split("  # ")[0] for line in section.splitlines() if "meridian " in line]
    words = [shlex.split(line.split("meridian ", 1)[1]) for line in lines]
    return [[w for w in line if w not in ("-v", "--verbose", "-q", "--quiet")] for line in words]


def _parse(root: Any, words: list[str]) -> None:
    """Parse an example as `meridian` would, down to its command, without running it; a group's
    hidden command takes what names none of its commands (`meridian promote orders …`)."""
    command, name = root, "meridian"
    while hasattr(command, "commands"):
        if words and words[0] in command.commands:
            name, words = words[0], words[1:]
            command = command.commands[name]
        else:
            command = next(c for c in command.commands.values() if c.hidden)
    command.make_context(name, list(words))


def test_every_command_shows_examples_of_itself_that_parse(meridian_cli):
    root = typer.main.get_command(cli.app)
    commands = [((), root), *_commands(root)]
    assert len(commands) >= 30
    hidden = {"run"}  # `meridian promote APP …` runs `promote run`: its usage and examples say so
    for path, _ in commands:
        result = meridian_cli(*path, "--help")
        assert result.returncode == 0, (path, result.stderr)
        words = [word for word in path if word not in hidden]
        shown = " ".join(["meridian", *words])
        examples = _examples(result.stdout)
        assert examples, f"`{shown} --help` shows no example"
        assert [e for e in examples if e[: len(words)] == words], f"`{shown} --help`: no example of it"
        for example in examples:
            try:
                _parse(root, example)
            except Exception as exc:  # whatever parsing raises is the finding
                raise AssertionError(f"`{shown} --help`: `meridian {shlex.join(example)}`: {exc}") from None


def test_the_checkers_the_options_offer_are_the_gates_in_its_order():
    assert tuple(Checker) == gate.CHECKERS


CLEAN = "tests/policies/fixtures/hardened/orders.yaml"
CONFTEST_ONLY = ("policy", "check", "--skip", "checkov", "--skip", "secrets", CLEAN)


def test_progress_goes_to_stderr_and_quiet_drops_it_leaving_the_result(meridian_cli):
    normal = meridian_cli(*CONFTEST_ONLY)
    quiet = meridian_cli("--quiet", *CONFTEST_ONLY)
    assert normal.returncode == quiet.returncode == 0, (normal.stderr, quiet.stderr)
    assert "conftest done in" in normal.stderr
    assert quiet.stderr == ""
    assert "passed: 7 objects in 1 files" in quiet.stdout
    assert "$ " not in normal.stderr


def test_verbose_shows_each_tools_command_line_before_it_runs(meridian_cli, repo_root):
    result = meridian_cli("-v", *CONFTEST_ONLY)
    assert result.returncode == 0, result.stderr
    conftest = next(line for line in result.stderr.splitlines() if line.startswith("$ "))
    assert conftest.startswith(f"$ {repo_root}/bin/conftest test ") and conftest.endswith(f"/{CLEAN}")
    assert "conftest done in" in result.stderr


def test_verbose_and_quiet_together_are_an_input_error(meridian_cli):
    result = meridian_cli("--verbose", "--quiet", "status")
    assert result.returncode == 2
    assert "--verbose and --quiet contradict each other" in result.stderr
