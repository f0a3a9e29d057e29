"""The repository as of one moment: a commit (read through git) or the working tree (read from disk).

Promotions judge committed state; `promote check` judges BASE and HEAD of a pull request;
`status` shows what is checked out. One interface for all three keeps every reader (config,
versions, locks, holds, the Rego policies) independent of where the bytes come from.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from pathlib import Path

from meridian_core.git import Git
from meridian_core.layout import overlays_path, version_path

__all__ = ["Revision", "Snapshot", "WorkingTree", "version_path"]


class Snapshot(ABC):
    label: str  # for people: "HEAD (1a2b3c4d5e)", "the working tree"

    @abstractmethod
    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when the snapshot has no such file."""

    @abstractmethod
    def subdirectories(self, path: str) -> list[str]:
        """Names of the folders directly under `path`."""

    @abstractmethod
    def files_under(self, path: str) -> list[str]:
        """Repository-relative paths of every file below `path`."""

    def exists(self, path: str) -> bool:
        return self.read(path) is not None

    def describe(self, path: str) -> str:
        return path if isinstance(self, WorkingTree) else f"{path} at {self.label}"

    def apps(self, env: str) -> list[str]:
        """The apps of an environment: the folders under apps/ that pin a version."""
        names = self.subdirectories(overlays_path(env))
        return [name for name in names if self.exists(version_path(env, name))]

    def export(self, path: str, dest: Path) -> Path:
        """Copy the files below `path` to `dest` (e.g. the Rego policies, for conftest)."""
        for rel in self.files_under(path):
            data = self.read(rel)
            if data is None:
                continue
            target = dest / rel[len(path.rstrip("/")) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return dest


class Revision(Snapshot):
    def __init__(self, git: Git, rev: str) -> None:
        self.git = git
        self.sha = git.require_rev(rev)
        self.label = rev if rev == self.sha else f"{rev} ({self.sha[:10]})"
        self._cache: dict[str, bytes | None] = {}

    def read(self, path: str) -> bytes | None:
        if path not in self._cache:
            self._cache[path] = self.git.read(self.sha, path)
        return self._cache[path]

    def subdirectories(self, path: str) -> list[str]:
        return self.git.list_tree(self.sha, path, directories=True)

    def files_under(self, path: str) -> list[str]:
        return self.git.list_tree(self.sha, path)


class WorkingTree(Snapshot):
    label = "the working tree"

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, path: str) -> bytes | None:
        file = self.root / path
        return file.read_bytes() if file.is_file() else None

    def subdirectories(self, path: str) -> list[str]:
        folder = self.root / path
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def files_under(self, path: str) -> list[str]:
        folder = self.root / path
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in folder.rglob("*") if p.is_file())

    def export(self, path: str, dest: Path) -> Path:
        shutil.copytree(self.root / path, dest, dirs_exist_ok=True)
        return dest
