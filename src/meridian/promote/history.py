"""What ran where, and since when, from git history alone.

Each change of an app's version.yaml on the first-parent line of a branch is one entry: the commit
that brought it onto the branch (a merge, a squash or a direct commit), the pin it left behind,
and the promotion or rollback record (trailers) of the commit that wrote it, when a meridian
command did. "Running since" is the commit time of the oldest entry of the current run of the
same build (tag and digest).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from meridian_core.errors import InputError
from meridian_core.git import Commit, Git
from meridian_core.snapshot import version_path

from meridian.promote.message import AppRecord, records
from meridian.promote.versions import Pin, read_pin


@dataclass(frozen=True)
class Entry:
    env: str
    app: str
    commit: Commit  # on the branch's first-parent line: when the change landed
    author: str  # who wrote the change (the promotion commit's author inside a merge)
    pin: Pin | None  # None: the file was removed or cannot be read
    record: AppRecord | None  # the meridian record of this app in the change, if any
    raw: bytes | None  # the file's exact bytes after the change (what a rollback restores)

    @property
    def kind(self) -> str:
        return self.record.kind if self.record else "change"

    @property
    def time(self) -> datetime:
        return self.commit.time


def entries(git: Git, rev: str, env: str, app: str) -> list[Entry]:
    """Every landed change of the app's version in the environment, newest first."""
    path = version_path(env, app)
    commits = git.file_history(rev, path)
    blobs = git.read_many([f"{c.sha}:{path}" for c in commits])
    found = []
    for commit, blob in zip(commits, blobs, strict=True):
        source = _source(git, commit, path)
        record = next((r for r in records(source.trailers) if r.app == app and r.to == env), None)
        found.append(Entry(env, app, commit, source.author, _pin(blob, app, commit, path), record, blob))
    return found


def _source(git: Git, commit: Commit, path: str) -> Commit:
    """The commit that wrote the change: for a merge, the newest merged commit that touched the file."""
    if not commit.is_merge:
        return commit
    merged = git.merged_commits(commit, path)
    return merged[0] if merged else commit


def _pin(blob: bytes | None, app: str, commit: Commit, path: str) -> Pin | None:
    if blob is None:
        return None
    try:
        return read_pin(blob.decode(errors="replace"), app, f"{path} at {commit.short}")
    except InputError:
        return None  # a broken past version is history, not a reason to fail today


def running_since(history: list[Entry], pin: Pin) -> datetime | None:
    """Since when the build `pin` has run without a break, per the newest entries; None if it is
    not what the newest entry left (e.g. a working-tree change not committed yet)."""
    since = None
    for entry in history:
        if entry.pin is None or not entry.pin.same_build(pin):
            break
        since = entry.time
    return since


def versions_seen(history: list[Entry]) -> list[str]:
    """Versions the environment ran at some point, newest first, each once."""
    seen: list[str] = []
    for entry in history:
        if entry.pin is not None and entry.pin.version not in seen:
            seen.append(entry.pin.version)
    return seen
