"""The child processes of one gate run, so that when one step fails the others stop at once.

The checkers run side by side; without this, a YAML error found in the first second would be
reported only after checkov had spent its half-minute on input already known to be bad.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from meridian import console


class Cancelled(Exception):
    """A step was stopped because another one failed first."""


class Processes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[str]] = set()
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def run(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        with self._lock:
            if self._cancelled:
                raise Cancelled(command[0])
            console.command(command, cwd)
            # A process group of its own, so cancelling also stops the workers the tool forks (checkov).
            proc = subprocess.Popen(
                list(command),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
            self._live.add(proc)
        try:
            stdout, stderr = proc.communicate()
        finally:
            with self._lock:
                self._live.discard(proc)
        if self._cancelled:
            raise Cancelled(command[0])
        return subprocess.CompletedProcess(list(command), proc.returncode, stdout, stderr)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            for proc in self._live:
                # It may have ended on its own in the meantime.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
