"""Running the Pulumi engine for one environment's stack, on the repository's defaults.

Defaults a new checkout works with: a file state backend under .meridian/state, a passphrase for dev
secrets generated once under .meridian/passphrases/, and the engine and plugins from bin/. staging
and prod never get a generated passphrase: their operators must provide it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meridian_core.errors import ConflictError, InputError
from meridian_core.layout import Repo
from meridian_core.liveness import Holder
from meridian_infra.chart_sources import MIRROR_ENV

from meridian import console
from meridian.toolchain import require_tool, tool_env

# Environments whose secrets may be encrypted with a machine-local passphrase.
LOCAL_PASSPHRASE_ENVIRONMENTS = frozenset({"dev"})
PASSPHRASE_VARIABLES = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


@dataclass(frozen=True)
class Stack:
    repo: Repo
    env: str

    @property
    def backend_url(self) -> str:
        return os.environ.get("PULUMI_BACKEND_URL") or f"file://{self.default_state_dir}"

    @property
    def default_state_dir(self) -> Path:
        return self.repo.local_dir / "state"

    @property
    def state_dir(self) -> Path | None:
        """The folder of a file backend (the default one or PULUMI_BACKEND_URL's); None for the
        others (s3://, gs://, azblob://, Pulumi Cloud), whose state meridian does not read."""
        return file_backend_dir(self.backend_url)

    def require_file_backend(self, action: str) -> Path:
        """The file backend's folder, or a usage error saying what to do on other backends."""
        folder = self.state_dir
        if folder is None:
            scheme = self.backend_url.split("://", 1)[0]
            raise InputError(
                f"{action} reads the stack's lock files, which only a file backend keeps where meridian "
                f"can read them; stack {self.env} is on {scheme}:// (PULUMI_BACKEND_URL)",
                hint=(
                    f"check that no update of {self.env} is still running, then run "
                    f"`pulumi cancel --stack {self.env} --yes` and "
                    f"`pulumi refresh --stack {self.env} --yes --clear-pending-creates` "
                    "with the same PULUMI_BACKEND_URL and credentials"
                ),
            )
        return folder

    def passphrase_file(self) -> Path:
        return self.repo.local_dir / "passphrases" / self.env

    def environment(self) -> dict[str, str]:
        """The process environment every `pulumi` call of this stack runs with."""
        env = tool_env(self.repo)
        env.update(
            PULUMI_BACKEND_URL=self.backend_url,
            PULUMI_SKIP_UPDATE_CHECK="1",
            # Plugins come from bin/ (see tools/pulumi); never reach for get.pulumi.com.
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        )
        # The engine runs the program in its own folder (infra/): a relative chart mirror means the
        # folder relative to where the command was given, as `meridian render` reads it.
        mirror = env.get(MIRROR_ENV, "").strip()
        if mirror and "://" not in mirror and not mirror.startswith("/"):
            env[MIRROR_ENV] = str(Path(mirror).resolve())
        if not any(os.environ.get(v) for v in PASSPHRASE_VARIABLES):
            env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(self._local_passphrase())
        return env

    def _local_passphrase(self) -> Path:
        if self.env not in LOCAL_PASSPHRASE_ENVIRONMENTS:
            raise InputError(
                f"{self.env}'s secrets are encrypted with a passphrase its operators hold",
                hint="export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) and run again",
            )
        path = self.passphrase_file()
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created with owner-only permissions before anything is written into it.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
        return path

    def pulumi(
        self, *args: str, capture: bool = False, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        command = [require_tool(self.repo, "pulumi"), *args, "--stack", self.env, "--non-interactive"]
        console.command(command, self.repo.root)
        return subprocess.run(
            command,
            cwd=self.repo.root,
            env=self.environment(),
            text=True,
            capture_output=capture,
            check=check,
        )

    def select(self) -> None:
        """Select the stack, creating it (with the passphrase secrets provider) on first use."""
        if self.pulumi("stack", "select", capture=True).returncode == 0:
            return
        created = self.pulumi("stack", "init", "--secrets-provider", "passphrase", capture=True)
        if created.returncode != 0:
            raise InputError(f"cannot create stack {self.env}: {created.stderr.strip()}")


@dataclass(frozen=True)
class StackLock:
    """A lock file of the file backend, and the update that wrote it."""

    path: Path
    holder: Holder


def file_backend_dir(url: str) -> Path | None:
    """The folder a `file://` backend URL names (`file:///abs`, `file://~/state`, with or without
    `?options`); None for every other backend."""
    if not url.startswith("file://"):
        return None
    path = url.removeprefix("file://").split("?", 1)[0]
    return Path(path).expanduser() if path else Path.home()


def stack_locks(stack: Stack) -> list[StackLock]:
    """The file backend's lock files of this stack (`.pulumi/locks/<org>/<project>/<stack>/<id>.json`).

    Other backends refuse (InputError): their locks are invisible from here, and saying "no lock"
    would be a guess.
    """
    root = stack.require_file_backend("the stack lock check") / ".pulumi" / "locks"
    found = []
    for path in sorted(root.glob(f"**/{stack.env}/*.json")):
        try:
            content = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found.append(
            StackLock(
                path,
                Holder(
                    int(content.get("pid", 0)),
                    str(content.get("hostname", "")),
                    str(content.get("timestamp", "")),
                    f"a running update by {content.get('username') or 'an unknown user'}",
                ),
            )
        )
    return found


def pending_operations(stack: Stack) -> list[dict[str, Any]]:
    exported = stack.pulumi("stack", "export", capture=True)
    if exported.returncode != 0:
        raise InputError(f"cannot export stack {stack.env}: {exported.stderr.strip()}")
    deployment = json.loads(exported.stdout).get("deployment", {})
    return list(deployment.get("pending_operations") or [])


def recover(stack: Stack) -> list[str]:
    """Undo what an update killed mid-way leaves behind: a stale lock and pending operations.

    Refuses (conflict) while the process holding the lock is alive, so a running update is never
    cut short.
    """
    stack.require_file_backend("meridian recover")
    steps: list[str] = []
    for lock in stack_locks(stack):
        if lock.holder.alive():
            raise ConflictError(
                f"stack {stack.env} is locked by {lock.holder}",
                hint="wait for it to finish; recover only after it has died",
            )
    if stack_locks(stack):
        cancelled = stack.pulumi("cancel", "--yes", capture=True)
        if cancelled.returncode != 0:
            raise InputError(f"pulumi cancel failed: {cancelled.stderr.strip()}")
        steps.append("removed the stale lock (pulumi cancel)")
    if pending_operations(stack):
        refreshed = stack.pulumi(
            "refresh", "--yes", "--clear-pending-creates", "--skip-preview", capture=True
        )
        if refreshed.returncode != 0:
            raise InputError(f"pulumi refresh --clear-pending-creates failed: {refreshed.stderr.strip()}")
        steps.append("cleared pending operations (pulumi refresh --clear-pending-creates)")
    return steps
