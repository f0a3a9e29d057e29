"""The local GitOps loop beside the local control plane: bring it up, report on it, bring it down.

`up` serves a clone of this checkout from a git server on loopback, installs Argo CD's CRDs and
configuration, starts Redis and Argo CD's repo-server, ApplicationSet controller and application
controller, and hands the dev environment to them (its namespaces, AppProject and ApplicationSet,
as the platform program declares them). As with the control plane, it ends with every component
healthy or stops what it started and says why.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from meridian_core.errors import RefusedError
from meridian_core.layout import Repo

from meridian.cluster import gitops_components as gc
from meridian.cluster import gitops_config, gitops_repo
from meridian.cluster.api import KubeApi
from meridian.cluster.gitops_environment import Applied, apply_environment, declared
from meridian.cluster.layout import ClusterDir
from meridian.cluster.manager import Say, Started, Wait, refuse_taken_ports, running_pids, start_stages
from meridian.cluster.procs import is_ours, read_pid, stop
from meridian.environments import load_spec
from meridian.toolchain import require_tool

# The environment a developer's loop runs, as for the control plane.
SPEC_ENV = "dev"
STOP_TIMEOUT_S = 30.0
POLL_S = 0.2


@dataclass(frozen=True)
class LoopStatus:
    name: str
    pid: int | None
    running: bool
    healthy: bool
    port: int
    log: Path


class GitOpsLoop:
    def __init__(self, repo: Repo, dirs: ClusterDir) -> None:
        self.repo = repo
        self.dirs = dirs
        self.layout = gc.GitOpsLayout(dirs)

    @property
    def marker(self) -> str:
        return os.path.join(self.dirs.root, "")

    def started(self) -> bool:
        """Whether `up --gitops` ran on this state folder since the last `down`."""
        return self.layout.settings_file.is_file()

    def repo_url(self) -> str:
        """The served repository's URL: the running loop's, or the one it will have when started
        (its ports come from the same settings), so a program run before the loop can point at it."""
        return self._recorded_or_new().ports.repo_url

    def _recorded_or_new(self, poll_s: int = gc.DEFAULT_POLL_S) -> gc.GitOpsSettings:
        """The settings the loop was started with, else those it would start with now."""
        return self.layout.read_settings() or gc.GitOpsSettings(gc.GitOpsPorts.from_env(), poll_s)

    def settings(self) -> gc.GitOpsSettings:
        found = self.layout.read_settings()
        if found is None:
            raise RefusedError(
                f"no GitOps loop in {self.dirs.root}", hint="start it: `meridian cluster up --local --gitops`"
            )
        return found

    # ---- status ----------------------------------------------------------------------------

    def status(self) -> list[LoopStatus]:
        built = gc.components(self._plan(self._recorded_or_new(), resolve=False))
        result = []
        for name in gc.NAMES:
            pid = read_pid(self.dirs.pid_file(name))
            running = pid is not None and is_ours(pid, self.marker)
            healthy = running and built[name].health()
            result.append(LoopStatus(name, pid, running, healthy, built[name].port, self.dirs.log(name)))
        return result

    # ---- up --------------------------------------------------------------------------------

    def up(self, api: KubeApi, wait: Wait, say: Say) -> bool:
        """Start what is not running and healthy; True if the whole loop already was."""
        spec = load_spec(self.repo, SPEC_ENV)
        settings = self._recorded_or_new(gc.poll_seconds())
        plan = self._plan(settings)
        statuses = self.status()
        if self.started() and all(s.healthy for s in statuses):
            return True
        leftovers = self._running_pids()
        if leftovers:
            say(f"restarting the GitOps loop (stopping {', '.join(sorted(set(leftovers.values())))})")
            self._stop(leftovers)
        self._clear_pid_files()
        self._check_ports_free(settings.ports)
        gc.prepare_links(plan)
        if gitops_repo.ensure_served(self.repo, self.layout.served_repo, spec.argocd.target_revision):
            say(f"serving this checkout's HEAD as {spec.argocd.target_revision} at {settings.ports.repo_url}")
        began = time.monotonic()
        source = gitops_config.install(api, self.repo.bin_dir)
        say(f"Argo CD CRDs and configuration: {source} ({time.monotonic() - began:.1f}s)")
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self.layout.settings_file.write_text(settings.to_json())
        self._start(plan, wait, say)
        return False

    def hand_over(self, api: KubeApi, env: str) -> Applied:
        """Apply env's namespaces, AppProject and ApplicationSet, pointed at the served repository."""
        return apply_environment(self.repo, api, env, self.settings().ports.repo_url)

    def declared(self, api: KubeApi, env: str) -> bool:
        """Whether the program (`meridian up ENV`) declared env's ApplicationSet itself."""
        return declared(api, env)

    def _start(self, plan: gc.GitOpsPlan, wait: Wait, say: Say) -> None:
        started: Started = {}
        try:
            start_stages(self.dirs, gc.STAGES, gc.components(plan), started=started, wait=wait, say=say)
        except BaseException:
            self._stop({p.pid: n for n, p in started.items()})
            self._clear_pid_files()
            self.layout.settings_file.unlink(missing_ok=True)
            raise

    def _check_ports_free(self, ports: gc.GitOpsPorts) -> None:
        refuse_taken_ports(
            ports.by_use(),
            prefix="GitOps ",
            hint="stop it, or give this cluster other ports: MERIDIAN_CLUSTER_PORT_BASE=<first of 14 "
            "free ports> (the control plane takes five, the GitOps loop the next eight, the policy "
            "webhook the one after)",
        )

    # ---- down ------------------------------------------------------------------------------

    def down(self, *, purge: bool) -> list[str]:
        running = self._running_pids()
        self._stop(running)
        self._clear_pid_files()
        self.layout.settings_file.unlink(missing_ok=True)
        if purge:
            shutil.rmtree(self.layout.root, ignore_errors=True)
        order = {name: i for i, name in enumerate(reversed(gc.NAMES))}
        return sorted(set(running.values()), key=order.__getitem__)

    def _running_pids(self) -> dict[int, str]:
        return running_pids(self.dirs, gc.NAMES)

    def _stop(self, running: dict[int, str]) -> None:
        for stage in reversed(gc.STAGES):
            stop([pid for pid, name in running.items() if name in stage], STOP_TIMEOUT_S)

    def _clear_pid_files(self) -> None:
        for name in gc.NAMES:
            self.dirs.pid_file(name).unlink(missing_ok=True)

    # ---- shared ----------------------------------------------------------------------------

    def _plan(self, settings: gc.GitOpsSettings, *, resolve: bool = True) -> gc.GitOpsPlan:
        if resolve:
            for name in gc.ARGOCD_PARTS:
                if not (self.repo.bin_dir / name).exists():
                    raise RefusedError(
                        f"{name} is not built in bin/",
                        hint="run `make tools`: it builds Argo CD pinned in tools/argocd/go.mod",
                    )
            redis = Path(require_tool(self.repo, gc.REDIS))
            daemon = gitops_repo.git_daemon()
        else:
            redis, daemon = Path(gc.REDIS), Path(gc.GIT)
        return gc.GitOpsPlan(self.layout, settings, self.repo.bin_dir, daemon, redis)
