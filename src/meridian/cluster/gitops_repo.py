"""The repository the local GitOps loop serves: a bare clone of this checkout under the state
folder, served read-only by `git daemon` on loopback. Argo CD reads it; changes reach it by a push
(`git push .meridian/cluster/gitops/git/meridian.git HEAD:main`), as merges reach a real remote.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from meridian_core.errors import RefusedError
from meridian_core.layout import Repo

# A fixed identity and no system or user configuration: what the served history looks like must
# not depend on who runs it.
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "LC_ALL": "C"}


def ensure_served(repo: Repo, served: Path, branch: str) -> bool:
    """Create the served repository from this checkout's HEAD as `branch`; True if it was created.

    An existing one is left as it is: its history is where merged changes land, and a restart of
    the loop must not rewind it.
    """
    if (served / "HEAD").is_file():
        return False
    served.parent.mkdir(parents=True, exist_ok=True)
    _git(served.parent, "init", "--quiet", "--bare", f"--initial-branch={branch}", str(served))
    _git(repo.root, "push", "--quiet", str(served), f"HEAD:refs/heads/{branch}")
    return True


def git_daemon() -> Path:
    exec_path = _git(Path.cwd(), "--exec-path").strip()
    daemon = Path(exec_path) / "git-daemon"
    if not daemon.is_file():
        raise RefusedError(
            f"{daemon} is missing: git's daemon is not installed", hint="install git (Debian: git)"
        )
    return daemon


def _git(cwd: Path, *args: str) -> str:

    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **_GIT_ENV}, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RefusedError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc.stdout
