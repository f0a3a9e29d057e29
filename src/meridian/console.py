"""One Rich console pair for the whole CLI: results to stdout, diagnostics to stderr; and how much
of the diagnostics a run shows (`meridian --quiet` / `--verbose`).

    --quiet     stderr carries only warnings and errors: no progress, no informational lines
    (neither)   progress and informational lines as well
    --verbose   also the command line of each tool meridian runs: pulumi, helm, kustomize,
                conftest, checkov, gitleaks, opa, cosign, the image builder, tool installs and
                the local control plane's components (git's many small calls are left out)

Results (tables, JSON, the answer a command exists for) go to stdout whatever the level.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path

from rich.console import Console
from rich.markup import escape

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class Verbosity(IntEnum):
    QUIET = 0
    NORMAL = 1
    VERBOSE = 2


_level = Verbosity.NORMAL


def set_verbosity(level: Verbosity) -> None:
    global _level  # noqa: PLW0603 - one setting for the whole run, made once by the root command
    _level = level


def quiet() -> bool:
    return _level is Verbosity.QUIET


def progress(line: str) -> None:
    """A step under way or done, or a fact worth knowing but not the result: stderr, dimmed."""
    if not quiet():
        err.print(f"[dim]{escape(line)}[/]")


def command(argv: Sequence[str | Path], cwd: Path | None = None) -> None:
    """The command line of a tool about to run, with --verbose: one line, never wrapped, so it
    can be copied and run again by hand."""
    if _level is Verbosity.VERBOSE:
        where = f" (in {cwd})" if cwd is not None else ""
        err.print(f"[dim]$ {escape(shlex.join(map(str, argv)))}{escape(where)}[/]", soft_wrap=True)


def warning(message: str) -> None:
    """What people must not miss, though the command goes on: shown at every level."""
    err.print(f"[bold yellow]warning:[/] {escape(message)}")
