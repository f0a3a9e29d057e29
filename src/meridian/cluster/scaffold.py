"""Objects a check needs for real while it runs (missing namespaces, CRDs from a folder), removed
again afterwards, so the cluster is left as it was found.

Leaving them would not be harmless: the Pulumi provider creates objects with a plain create, which
fails on an object that already exists, and Helm refuses to install a chart over CRDs it does not
own. Only objects this run created are removed; an existing object is never touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from meridian.cluster.api import ApiError, KubeApi

FIELD_MANAGER = "meridian-validate"
# Deleting an empty namespace takes the namespace controller a few seconds; a loaded machine more.
GONE_TIMEOUT_S = 120.0


@dataclass
class Scaffold:
    api: KubeApi
    created: list[tuple[str, str]] = field(default_factory=list)  # (name, path), in creation order
    left_behind: list[str] = field(default_factory=list)

    def __enter__(self) -> Scaffold:
        return self

    def __exit__(self, *_: object) -> None:
        self.remove()

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.created]

    def create(self, name: str, path: str, body: dict[str, Any]) -> None:
        """Create an object that does not exist yet (the caller checked); raises ApiError if refused."""
        self.api.apply(path, body, manager=FIELD_MANAGER)
        self.created.append((name, path))

    def remove(self) -> None:
        for _, path in reversed(self.created):
            try:
                self.api.delete(path)
            except ApiError:
                continue  # reported below as left behind
        deadline = time.monotonic() + GONE_TIMEOUT_S
        for name, path in reversed(self.created):
            if not self.wait_gone(path, deadline):
                self.left_behind.append(name)
        self.created.clear()

    def wait_gone(self, path: str, deadline: float | None = None) -> bool:
        """Whether the object at `path` is gone, waiting for its deletion to finish."""
        deadline = deadline if deadline is not None else time.monotonic() + GONE_TIMEOUT_S
        while True:
            try:
                if not self.api.exists(path):
                    return True
            except ApiError:
                return False
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.25)
