"""A real OCI registry on loopback (go-containerregistry's, through bin/meridian-image), for the
image suites and the chart mirror tests."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


class RegistryDidNotStart(RuntimeError):
    pass


@contextlib.contextmanager
def serve_registry(tool: str, folder: Path) -> Iterator[str]:
    """Run the registry with its blobs in `folder`; yields its address (127.0.0.1:PORT)."""
    folder.mkdir(parents=True, exist_ok=True)
    addr_file = folder / "address"
    log_path = folder / "registry.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                tool,
                "registry",
                "-listen",
                "127.0.0.1:0",
                "-addr-file",
                str(addr_file),
                "-blobs",
                str(folder / "blobs"),
            ],
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            while not addr_file.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RegistryDidNotStart(f"the registry did not start: {log_path.read_text()}")
                time.sleep(0.05)
            yield addr_file.read_text().strip()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
