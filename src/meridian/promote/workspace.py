"""A temporary git worktree where a promotion is written, rendered, gated and committed.

The user's checkout is never touched: HEAD, the index and the working tree stay as they were
whether the promotion succeeds or is refused, and two promotions can run side by side. The
worktree borrows the checkout's built tools (bin/, .meridian/), which git does not carry.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from meridian_core.git import Git
from meridian_core.layout import Below, Repo


@dataclass(frozen=True)
class WorktreeRepo(Repo):
    """A worktree seen as a Meridian checkout whose tools live in `home`."""

    home: Repo

    bin_dir = Below("home.bin_dir")
    local_dir = Below("home.local_dir")
    # The tools are borrowed, so their manifest and pins are the checkout's too.
    tools_dir = Below("home.tools_dir")


@contextmanager
def worktree(repo: Repo, git: Git, rev: str) -> Iterator[tuple[WorktreeRepo, Git]]:
    """A detached worktree of `rev`, removed afterwards whatever happens inside."""
    parent = Path(tempfile.mkdtemp(prefix="meridian-promote-"))
    path = parent / "tree"
    try:
        git.add_worktree(path, rev)
        yield WorktreeRepo(path, repo), Git(path)
    finally:
        git.remove_worktree(path)
        shutil.rmtree(parent, ignore_errors=True)
