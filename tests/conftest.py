"""Fixtures shared by every suite (the checkout under test, two ways to run the real CLI) and the
rule that a test may not skip in CI.

With CI set (`.ci/run`, the workflows), a test that skips because a tool or server is missing
fails instead, and a module skipped while collecting is a collection error, each with the skip's
reason naming what was missing: the project's own `make test` installs every tool a test needs,
so a skip there means a green run that proved less than it says.
A developer's run may still skip; it ends with one line saying what was missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meridian import cli, console

REPO_ROOT = Path(__file__).resolve().parents[1]

RunMeridian = Callable[..., subprocess.CompletedProcess[str]]


def pytest_configure(config: pytest.Config) -> None:
    # A relative chart mirror (CI names ../shared/charts-mirror) means the same folder in every
    # process the tests start, whatever their working directory.
    mirror = os.environ.get("MERIDIAN_CHART_MIRROR", "").strip()
    if mirror and "://" not in mirror and not Path(mirror).is_absolute():
        os.environ["MERIDIAN_CHART_MIRROR"] = str((REPO_ROOT / mirror).resolve())


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def run_meridian() -> RunMeridian:
    """Run `meridian` as a user would: a separate process, its exit code and both streams."""

    def run(
        *args: str, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "meridian.cli", *args],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def meridian_cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., CliResult]]:
    """Run `meridian` in this process (the same `main` a user's process runs, streams captured by
    Typer's CliRunner): for usage and help tests, where a new interpreter per call is only cost."""

    def run(*args: str, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None) -> CliResult:
        with monkeypatch.context() as patch:
            patch.chdir(cwd)
            for name, value in {"COLUMNS": "200", "NO_COLOR": "1", **(env or {})}.items():
                patch.setenv(name, value)
            for stream in (console.out, console.err):
                patch.setattr(stream, "_width", 200)
            with CliRunner().isolation() as (stdout, stderr, _):
                try:
                    cli.main(list(args))
                    code = 0
                except SystemExit as exited:
                    code = exited.code if isinstance(exited.code, int) else (0 if exited.code is None else 1)
                return CliResult(code, stdout.getvalue().decode(), stderr.getvalue().decode())

    yield run


_SKIPS = pytest.StashKey[Counter[str]]()  # skip reason -> how many tests gave it
_SKIPPED_MODULES = pytest.StashKey[dict[str, list[str]]]()  # skip reason -> the modules it dropped


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    item.config.stash.setdefault(_SKIPS, Counter())[reason] += 1
    if _in_ci():
        report.outcome = "failed"
        report.longrepr = (
            f"skipped with CI set, where `make test` must have installed it: {reason}\n"
            "(install it with the group tools/tools.toml names, e.g. `meridian tools install --for test`)"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """A skip while collecting (`pytest.skip(allow_module_level=True)`, `pytest.importorskip` at
    module level) drops a whole module without a test report: in CI it is an error instead."""
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if not report.skipped:
        return
    reason = _skip_reason(report)
    collector.config.stash.setdefault(_SKIPPED_MODULES, {}).setdefault(reason, []).append(report.nodeid)
    if _in_ci():
        report.outcome = "failed"
        report.longrepr = (
            f"{report.nodeid}: skipped as a whole with CI set, where `make test` must have installed "
            f"what it needs: {reason}\n"
            "(install it with the group tools/tools.toml names, e.g. `meridian tools install --for test`)"
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    skips = config.stash.get(_SKIPS, Counter())
    modules = config.stash.get(_SKIPPED_MODULES, {})
    if not skips and not modules:
        return
    what = "; ".join(
        [
            *(f"{reason} ({count} test{'s' if count > 1 else ''})" for reason, count in skips.items()),
            *(f"{reason} (all of {', '.join(nodeids)})" for reason, nodeids in modules.items()),
        ]
    )
    verdict = "failed: CI is set" if _in_ci() else "skipped locally; with CI set they fail"
    terminalreporter.write_line(f"missing tools or servers, {verdict}: {what}", yellow=True, bold=True)
