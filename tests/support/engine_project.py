"""A scratch Pulumi project for the engine tests: the repository's program, environments and tools,
with its own state backend, passphrases, stack config and local control plane, so the developer's
stacks are never touched. The scratch Pulumi.yaml points the Python runtime at the repository's
.venv directly (the checked-in one lets the uv toolchain sync it first); everything else is the
checked-in setup."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from meridian_core.layout import Repo
from meridian_infra.chart_sources import MIRROR_ENV

from meridian.cluster.api import KubeApi
from meridian.cluster.components import NAMES, PYTHON_MODULES, server_url
from meridian.cluster.layout import Ports
from meridian.cluster.procs import find_ours
from meridian.engine import Stack
from support.local_cluster import REPO_ROOT

LINKED = ("infra", "environments", "tools", "bin", "apps", "policies")  # policies: the local policy webhook
TIMEOUT_S = 900
PULUMI = str(REPO_ROOT / "bin" / "pulumi")


def make_project_root(root: Path) -> Path:
    for name in LINKED:
        (root / name).symlink_to(REPO_ROOT / name)
    (root / "Pulumi.yaml").write_text(
        "name: meridian\n"
        "runtime:\n  name: python\n  options:\n"
        f"    virtualenv: {REPO_ROOT / '.venv'}\n"
        "main: infra/\n"
    )
    return root


@dataclass
class Project:
    root: Path
    cluster_dir: Path
    port_base: int
    chart_mirror: str  # $MERIDIAN_CHART_MIRROR for the program, or "upstream"
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. staging's passphrase

    @property
    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("MERIDIAN_", "PULUMI_"))}
        if self.chart_mirror != "upstream":
            keep[MIRROR_ENV] = self.chart_mirror
        return {
            **keep,
            "MERIDIAN_ROOT": str(self.root),
            "MERIDIAN_CLUSTER_DIR": str(self.cluster_dir),
            "MERIDIAN_CLUSTER_PORT_BASE": str(self.port_base),
            "COLUMNS": "250",
            "NO_COLOR": "1",
            **self.extra_env,
        }

    def meridian(self, *args: str, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "meridian.cli", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start_meridian(self, *args: str) -> subprocess.Popen[str]:
        """In its own process group, so the whole tree (CLI, engine, plugins) can be killed at once."""
        return subprocess.Popen(
            [sys.executable, "-m", "meridian.cli", *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def pulumi_env(self, stack: str = "dev") -> dict[str, str]:
        """What `meridian` gives the engine in this project (its backend, its passphrase)."""
        with mock.patch.dict(os.environ, self.env, clear=True):
            return Stack(Repo(self.root), stack).environment()

    def pulumi(
        self, *args: str, stack: str = "dev", stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PULUMI, *args, "--stack", stack, "--non-interactive"],
            cwd=self.root,
            env=self.pulumi_env(stack),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )

    def start_pulumi(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [PULUMI, *args, "--stack", "dev", "--non-interactive"],
            cwd=self.root,
            env=self.pulumi_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def plugin_processes(self) -> list[int]:
        """Engine plugins started from this project's bin/ link (their command line names it)."""
        prefix = str(self.root / "bin") + "/"
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                argv0 = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
            except OSError:
                continue
            if argv0.startswith(prefix):
                found.append(int(proc.name))
        return found

    def cluster_processes(self) -> list[int]:
        return list(find_ours(NAMES, os.path.join(self.cluster_dir, ""), modules=PYTHON_MODULES))

    def api(self) -> KubeApi:
        return KubeApi(server_url(Ports.from_base(self.port_base)), self.cluster_dir / "pki")

    def locks(self) -> list[Path]:
        return sorted((self.root / ".meridian" / "state" / ".pulumi" / "locks").glob("**/dev/*.json"))


def output(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
    )
