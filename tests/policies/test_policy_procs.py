"""Stopping the other checkers when one fails: the child processes of a gate run."""

from __future__ import annotations

import threading

import pytest

from meridian.policy.procs import Cancelled, Processes


def test_cancel_stops_a_running_process_and_refuses_new_ones():
    procs = Processes()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            procs.run(["sleep", "600"])
        except Cancelled as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    while not procs._live and worker.is_alive():  # wait until the child exists
        threading.Event().wait(0.01)
    procs.cancel()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the child was not stopped"
    assert len(outcome) == 1 and procs.cancelled
    with pytest.raises(Cancelled):
        procs.run(["true"])


def test_a_finished_process_returns_its_output_and_code():
    result = Processes().run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
