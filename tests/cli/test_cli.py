"""The CLI's contract with its users: version, help, usage errors and the shared exit codes."""

from meridian import __version__


def test_version_prints_the_package_version(run_meridian):
    result = run_meridian("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"meridian {__version__}"


def test_help_lists_the_commands(run_meridian):
    result = run_meridian("--help")
    assert result.returncode == 0
    for command in ("doctor", "tools"):
        assert command in result.stdout


def test_unknown_command_is_a_usage_error(run_meridian):
    result = run_meridian("frobnicate")
    assert result.returncode == 2
    assert "No such command 'frobnicate'" in result.stderr
    assert "Traceback" not in result.stderr


def test_outside_a_checkout_the_error_says_where_it_looked(run_meridian, tmp_path):
    result = run_meridian("doctor", cwd=tmp_path, env={"MERIDIAN_ROOT": ""})
    assert result.returncode == 2
    assert f"no Meridian checkout found at or above {tmp_path}" in result.stderr
    assert "Traceback" not in result.stderr
