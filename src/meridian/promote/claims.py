"""A claim on (app or bundle, environment) while one process makes its promotion branch.

Finding the pending branches and creating a new one are seconds apart (render and gate run in
between), so two `meridian promote` runs started together would both find none and both create
one. A claim closes that gap: a lock file created with O_CREAT | O_EXCL (atomic on every local
file system) in the repository's common git folder, shared by all its worktrees. Whoever creates
it looks for pending branches and makes its own; the other is told there is a conflict (exit 3).

A claim left by a process that died is taken over when that process is gone from this host.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from meridian_core.git import Git
from meridian_core.liveness import Holder


class Claimed(Exception):
    """Another live process holds the claim."""

    def __init__(self, holder: Holder) -> None:
        super().__init__(str(holder))
        self.holder = holder


def claims_dir(git: Git) -> Path:
    common = Path(git.run("rev-parse", "--git-common-dir").strip())
    return (common if common.is_absolute() else git.root / common) / "meridian" / "claims"


def claim_path(git: Git, name: str, env: str) -> Path:
    """The claim file of an app (or bundle) in an environment."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{name}.{env}")
    return claims_dir(git) / f"{safe}.lock"


@contextlib.contextmanager
def claim(git: Git, names: list[str], env: str, what: str) -> Iterator[None]:
    """Hold the claims of every name (the unit and its apps) in `env`, or raise Claimed."""
    claims_dir(git).mkdir(parents=True, exist_ok=True)
    me = Holder(os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat(timespec="seconds"), what)
    taken: list[Path] = []
    try:
        for name in sorted(set(names)):
            path = claim_path(git, name, env)
            _take(path, me)
            taken.append(path)
        yield
    finally:
        for path in taken:
            path.unlink(missing_ok=True)


def _take(path: Path, me: Holder) -> None:
    for _ in range(2):  # the second attempt follows the removal of a dead holder's claim
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            seen = _bytes(path)
            holder = _read(path)
            if holder is None and _age(path) > _UNWRITTEN_GRACE_S:
                holder = _NOBODY  # created and never written: its process died at once
            if holder is None or holder.alive():
                raise Claimed(holder or _BEING_WRITTEN) from None
            _remove_stale(path, seen)
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(me.__dict__, handle)
        return
    raise Claimed(_read(path) or _BEING_WRITTEN)


# A claim is written right after it is created; an empty one older than this was abandoned.
_UNWRITTEN_GRACE_S = 60.0
_BEING_WRITTEN = Holder(0, "?", "?", "a promotion being started")
_NOBODY = Holder(0, socket.gethostname(), "?", "an abandoned claim")


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _read(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text())
        return Holder(int(data["pid"]), str(data["host"]), str(data["since"]), str(data["what"]))
    except (OSError, ValueError, KeyError, TypeError):
        # Being written this very moment (created, not yet filled), or gone: someone holds it.
        return None


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _remove_stale(path: Path, seen: bytes) -> None:
    """Remove a dead holder's claim, unless another process replaced it in the meantime."""
    aside = path.with_name(f"{path.name}.stale-{os.getpid()}")
    try:
        os.rename(path, aside)  # atomic: only one of several processes gets the stale file
    except FileNotFoundError:
        return
    if _bytes(aside) != seen:  # someone took over between our read and the rename: put it back
        with contextlib.suppress(OSError):
            os.link(aside, path)
    aside.unlink(missing_ok=True)
