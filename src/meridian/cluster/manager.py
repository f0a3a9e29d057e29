"""Bring the local control plane up, report on it, bring it down.

`up` either ends with every component healthy, the fake nodes Ready and the `default`
ServiceAccount present, or stops whatever it started and says which component failed and why;
it never leaves half a cluster behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from meridian_core.errors import ConflictError, InputError, RefusedError
from meridian_core.layout import Repo

from meridian.cluster import components as comp
from meridian.cluster import policy_webhook
from meridian.cluster.api import ApiError, KubeApi
from meridian.cluster.egress import EgressFiles, write_selector_config
from meridian.cluster.kubeconfig import write_kubeconfig
from meridian.cluster.layout import ClusterDir, Ports, Settings, cluster_dir
from meridian.cluster.nodes import ensure_nodes, node_names, ready_nodes
from meridian.cluster.pki import ensure_pki
from meridian.cluster.ports import holder, is_free
from meridian.cluster.procs import find_ours, is_ours, read_pid, start_detached, stop, tail
from meridian.environments import load_spec
from meridian.toolchain import require_tool

# The dev spec sizes the local cluster: it is the environment a developer's machine runs.
SPEC_ENV = "dev"
START_TIMEOUT_ENV = "MERIDIAN_CLUSTER_START_TIMEOUT"
# Generous: on a loaded 2-core machine the API server alone can take a minute to become ready.
DEFAULT_START_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 30.0
HEALTH_GRACE_S = 20.0
POLL_S = 0.2

Say = Callable[[str], None]
Started = dict[str, subprocess.Popen[bytes]]
Wait = Callable[[str, Callable[[], bool], Started, str], None]

if TYPE_CHECKING:
    from meridian.cluster.gitops import GitOpsLoop


class Startable(Protocol):
    """A control-plane or GitOps-loop component, as far as starting it goes."""

    @property
    def argv(self) -> list[str]: ...
    @property
    def env(self) -> dict[str, str]: ...
    @property
    def health(self) -> Callable[[], bool]: ...


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    healthy: bool
    health: str
    port: int | None
    log: Path


@dataclass(frozen=True)
class DownResult:
    stopped: list[str]
    killed: list[str]  # did not stop on SIGTERM within the timeout
    purged: bool


class LocalCluster:
    def __init__(self, repo: Repo, dirs: ClusterDir | None = None) -> None:
        self.repo = repo
        self.dirs = dirs or cluster_dir(repo)

    @property
    def marker(self) -> str:
        """What every component's command line contains: a path inside the state folder."""
        return os.path.join(self.dirs.root, "")

    # ---- status ----------------------------------------------------------------------------

    @property
    def gitops(self) -> GitOpsLoop:
        from meridian.cluster.gitops import GitOpsLoop  # noqa: PLC0415 - it builds on this module

        return GitOpsLoop(self.repo, self.dirs)

    def status(self) -> list[ComponentStatus]:
        """The control plane's components, then the GitOps loop's if it was started."""
        return self._control_plane_status() + self._loop_status()

    def _loop_status(self) -> list[ComponentStatus]:
        loop = self.gitops
        statuses = loop.status()
        if not loop.started() and not any(s.running for s in statuses):
            return []
        return [
            ComponentStatus(
                s.name,
                s.pid,
                s.running,
                s.healthy,
                ("ok" if s.healthy else "not ready") if s.running else "-",
                s.port,
                s.log,
            )
            for s in statuses
        ]

    def _control_plane_status(self) -> list[ComponentStatus]:
        settings = self.dirs.read_settings()
        ports = settings.ports if settings else Ports.from_env()
        built = comp.components(self._plan(ports, settings.service_subnet if settings else ""))
        result = []
        for name in comp.NAMES:
            pid = read_pid(self.dirs.pid_file(name))
            running = pid is not None and is_ours(pid, self.marker)
            healthy = running and built[name].health()
            health = ("ok" if healthy else "not ready") if running else "-"
            if name == comp.KWOK and running:
                healthy, health = self._nodes_health(ports, settings.nodes if settings else 1)
            result.append(
                ComponentStatus(name, pid, running, healthy, health, built[name].port, self.dirs.log(name))
            )
        return result

    def _nodes_health(self, ports: Ports, count: int) -> tuple[bool, str]:
        try:
            with self._api(ports) as api:
                ready = ready_nodes(api, node_names(count))
        except (ApiError, OSError):
            return False, "API server unreachable"
        return len(ready) == count, f"{len(ready)}/{count} nodes Ready"

    # ---- up --------------------------------------------------------------------------------

    def up(self, say: Say, *, gitops: bool = False, admission: str | None = None) -> bool:
        """Start the cluster (and with `gitops` the GitOps loop beside it, handed the dev
        environment), or make sure the running one is whole; True if it was already running.

        With `admission`, the policy webhook serves that environment's policies and is registered
        as the platform program declares it for that environment."""
        with self._lock():
            already = self._up_control_plane(say, admission)
            if admission is not None:
                with self.api() as api:
                    registered = policy_webhook.register(self.repo, api, admission, self.dirs.kubeconfig)
                say(f"policy webhook registered for {admission}: {', '.join(registered)}")
            if not gitops:
                return already
            return self._up_gitops(say, SPEC_ENV, always_hand_over=True) and already

    def start_gitops(self, say: Say, env: str) -> bool:
        """The GitOps loop beside the running control plane, after `meridian up ENV` applied env's
        platform; True if it was already running. env is handed over only where the program did
        not declare its ApplicationSet (the Argo CD chart was skipped): the program's own objects
        are left to the program."""
        with self._lock():
            return self._up_gitops(say, env, always_hand_over=False)

    def _up_gitops(self, say: Say, env: str, *, always_hand_over: bool) -> bool:
        with self.api() as api:
            already = self.gitops.up(api, self._wait, say)
            if always_hand_over or not self.gitops.declared(api, env):
                applied = self.gitops.hand_over(api, env)
                say(f"{env} handed to Argo CD: {len(applied.objects)} objects applied")
            else:
                say(f"{env}'s AppProject and ApplicationSet are the program's: nothing to hand over")
        return already

    def _up_control_plane(self, say: Say, admission: str | None = None) -> bool:
        spec = load_spec(self.repo, SPEC_ENV)
        webhook = policy_webhook.WebhookFiles(self.dirs)
        environment = admission or webhook.environment()
        load_spec(self.repo, environment)  # an unknown or broken environment is refused first
        service_subnet = str(spec.cluster.service_subnet)
        nodes = max(1, spec.cluster.workers or 0)
        self._require_binaries()
        start_timeout()  # a bad setting is refused before anything starts
        settings = self.dirs.read_settings()
        if settings and self._whole_and_healthy():
            self._refuse_changed_subnet(settings, service_subnet)
            settings = Settings(settings.ports, service_subnet, nodes)
            self.dirs.write_settings(settings)
            self._settle(settings, {}, say)
            opa = next(s for s in self._control_plane_status() if s.name == comp.OPA)
            if environment != webhook.environment() or not opa.healthy:
                self._restart_webhook(settings, environment, say)
            return True
        leftovers = self._running_pids()
        if leftovers:
            names = ", ".join(sorted({n for n in leftovers.values()}))
            say(f"restarting: the cluster is incomplete or unhealthy (stopping {names})")
            self._stop_all(leftovers)
        elif any(self.dirs.pid_file(n).exists() for n in comp.NAMES):
            say("removing stale pid files: their processes are gone (a crash or a reboot)")
        self._clear_pid_files()
        if settings and self.dirs.etcd_data.exists():
            self._refuse_changed_subnet(settings, service_subnet)
        settings = Settings(Ports.from_env(), service_subnet, nodes)
        self._check_ports_free(settings.ports)
        self._prepare(settings, environment, say)
        self._start(settings, say)
        return False

    def _whole_and_healthy(self) -> bool:
        """Every component but the policy webhook runs and answers. A busy machine can make a
        health check time out once, so a running but unanswering cluster gets a grace period
        before it is restarted."""
        deadline = time.monotonic() + HEALTH_GRACE_S
        while True:
            # The policy webhook is restarted on its own when it alone is down (`up` does so).
            statuses = [s for s in self._control_plane_status() if s.name != comp.OPA]
            if not all(s.running for s in statuses):
                return False
            # kwok's "health" is its nodes, which `_settle` repairs without a restart.
            if all(s.healthy for s in statuses if s.name != comp.KWOK):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(1.0)

    def _require_binaries(self) -> None:
        for name in comp.BINARIES:
            found = Path(require_tool(self.repo, name))
            # Debian's etcd (3.4) or a distribution's kube binaries are too old for this cluster.
            if found.parent != self.repo.bin_dir:
                raise RefusedError(
                    f"{name} is not built in bin/ (found {found} instead)",
                    hint="run `make tools`: it builds the pinned control plane from tools/kube "
                    "and opa from tools/go",
                )
        if not (self.repo.bin_dir / comp.KWOK_STAGES_FILE).is_file():
            raise RefusedError(
                f"bin/{comp.KWOK_STAGES_FILE} is missing", hint="run `bash tools/kube/build.sh --force kwok`"
            )

    def _refuse_changed_subnet(self, settings: Settings, service_subnet: str) -> None:
        if settings.service_subnet != service_subnet:
            raise ConflictError(
                f"the local cluster was created with serviceSubnet {settings.service_subnet}, "
                f"the {SPEC_ENV} spec now says {service_subnet}",
                hint="Services keep their old addresses: `meridian cluster down --local --purge`, then up",
            )

    def _check_ports_free(self, ports: Ports) -> None:
        refuse_taken_ports(
            ports.by_use(),
            hint="stop it (if it is another checkout's cluster: `meridian cluster down --local` "
            "there), or give this one other ports: MERIDIAN_CLUSTER_PORT_BASE=<first of 14 free "
            "ports> meridian cluster up --local",
        )

    def _prepare(self, settings: Settings, environment: str, say: Say) -> None:
        self.dirs.root.mkdir(parents=True, exist_ok=True)
        service_ip = ipaddress.ip_network(settings.service_subnet)[1]
        issued = ensure_pki(self.dirs.pki, service_ip)
        if issued:
            say(f"certificates issued: {', '.join(issued)}")
        server = comp.server_url(settings.ports)
        write_kubeconfig(self.dirs.kubeconfig, server, self.dirs.pki, "admin")
        for identity in ("controller-manager", "scheduler"):
            write_kubeconfig(self.dirs.component_kubeconfig(identity), server, self.dirs.pki, identity)
        for name in ("controller-manager", "scheduler", "kwok-home"):
            self.dirs.scratch(name).mkdir(parents=True, exist_ok=True)
        write_selector_config(EgressFiles(self.dirs))
        policy_webhook.prepare(
            self.repo, policy_webhook.WebhookFiles(self.dirs), environment, settings.ports.admission
        )
        self.dirs.write_settings(settings)

    def _restart_webhook(self, settings: Settings, environment: str, say: Say) -> None:
        """The webhook alone, now serving `environment`'s policies; the rest keeps running."""
        running = {pid: name for pid, name in self._running_pids().items() if name == comp.OPA}
        stop(list(running), STOP_TIMEOUT_S)
        self.dirs.pid_file(comp.OPA).unlink(missing_ok=True)
        policy_webhook.prepare(
            self.repo, policy_webhook.WebhookFiles(self.dirs), environment, settings.ports.admission
        )
        built = comp.components(self._plan(settings.ports, settings.service_subnet))
        started: Started = {}
        try:
            start_stages(self.dirs, ((comp.OPA,),), built, started=started, wait=self._wait, say=say)
        except BaseException:
            self._stop_all({p.pid: n for n, p in started.items()})
            self.dirs.pid_file(comp.OPA).unlink(missing_ok=True)
            raise
        say(f"policy webhook now serves {environment}'s policies")

    def _start(self, settings: Settings, say: Say) -> None:
        built = comp.components(self._plan(settings.ports, settings.service_subnet))
        started: Started = {}
        try:
            start_stages(self.dirs, comp.STAGES, built, started=started, wait=self._wait, say=say)
            self._settle(settings, started, say)
        except BaseException:
            # Interrupted or failed: take down what this run started, in the safe order.
            self._stop_all({p.pid: n for n, p in started.items()})
            self._clear_pid_files()
            raise

    def _settle(self, settings: Settings, started: dict[str, subprocess.Popen[bytes]], say: Say) -> None:
        """The fake nodes exist and are Ready, and the controllers have created `default`'s account."""
        began = time.monotonic()
        with self._api(settings.ports) as api:
            try:
                names = ensure_nodes(api, settings.nodes)
            except ApiError as exc:
                raise RefusedError(
                    f"creating the fake nodes failed: {exc.message}",
                    hint=f"the API server's log: {self.dirs.log(comp.APISERVER)}",
                ) from None
            self._wait(
                f"{len(names)} kwok node(s) to become Ready",
                lambda: ready_nodes(api, names) == names,
                started,
                comp.KWOK,
            )
            self._wait(
                "the `default` ServiceAccount (the controller-manager creates it)",
                lambda: api.exists("/api/v1/namespaces/default/serviceaccounts/default"),
                started,
                comp.CONTROLLER_MANAGER,
            )
        say(f"{len(names)} node(s) Ready, controllers working: {time.monotonic() - began:.1f}s")

    def _wait(
        self, what: str, check: Callable[[], bool], started: dict[str, subprocess.Popen[bytes]], blame: str
    ) -> None:
        timeout = start_timeout()
        deadline = time.monotonic() + timeout
        while True:
            for name, process in started.items():
                code = process.poll()
                if code is not None:
                    raise RefusedError(
                        f"{name} exited (code {code}) while the local cluster was starting; "
                        f"last lines of {self.dirs.log(name)}:\n{_indent(tail(self.dirs.log(name)))}",
                        hint="nothing was left running; fix the cause, then `meridian cluster up --local`",
                    )
            with contextlib.suppress(ApiError):
                if check():
                    return
            if time.monotonic() >= deadline:
                log = self.dirs.log(blame)
                raise RefusedError(
                    f"gave up waiting {timeout:.0f}s for {what}; last lines of {log}:\n{_indent(tail(log))}",
                    hint=f"nothing was left running; a loaded machine may need {START_TIMEOUT_ENV}=<seconds>",
                )
            time.sleep(POLL_S)

    # ---- down ------------------------------------------------------------------------------

    def down(self, *, purge: bool) -> DownResult:
        with self._lock():
            # The loop first: its controllers would only log errors while the API server goes.
            loop_stopped = self.gitops.down(purge=purge)
            running = self._running_pids()
            killed = self._stop_all(running)
            self._clear_pid_files()
            if purge:
                for path in (
                    self.dirs.etcd_data,
                    self.dirs.pki,
                    self.dirs.root / "kubeconfigs",
                    self.dirs.root / "scratch",
                    EgressFiles(self.dirs).folder,  # forwards name Services that went with etcd
                    policy_webhook.WebhookFiles(self.dirs).folder,
                ):
                    shutil.rmtree(path, ignore_errors=True)
                self.dirs.kubeconfig.unlink(missing_ok=True)
                self.dirs.settings_file.unlink(missing_ok=True)
        order = {name: i for i, name in enumerate(reversed(comp.NAMES))}  # stop order
        return DownResult(
            stopped=loop_stopped + sorted(set(running.values()), key=order.__getitem__),
            killed=sorted({running[pid] for pid in killed}, key=order.__getitem__),
            purged=purge,
        )

    def _running_pids(self) -> dict[int, str]:
        return running_pids(self.dirs, comp.NAMES)

    def _stop_all(self, running: dict[int, str]) -> list[int]:
        killed: list[int] = []
        for stage in reversed(comp.STAGES):
            killed += stop([pid for pid, name in running.items() if name in stage], STOP_TIMEOUT_S)
        return killed

    def _clear_pid_files(self) -> None:
        for name in comp.NAMES:
            self.dirs.pid_file(name).unlink(missing_ok=True)

    # ---- shared ----------------------------------------------------------------------------

    def _plan(self, ports: Ports, service_subnet: str) -> comp.Plan:
        return comp.Plan(self.dirs, ports, self.repo.bin_dir, service_subnet, self.repo.root)

    def _api(self, ports: Ports) -> KubeApi:
        return KubeApi(comp.server_url(ports), self.dirs.pki)

    def api(self) -> KubeApi:
        """A client for the running cluster, as its admin."""
        settings = self.dirs.read_settings()
        if settings is None or not self.dirs.kubeconfig.is_file():
            raise RefusedError(
                f"no local cluster in {self.dirs.root}", hint="start one: `meridian cluster up --local`"
            )
        if not comp.components(self._plan(settings.ports, settings.service_subnet))[comp.APISERVER].health():
            raise RefusedError(
                f"the local API server ({comp.server_url(settings.ports)}) is not answering",
                hint="`meridian cluster status --local` shows what is wrong; "
                "`meridian cluster up --local` (re)starts it",
            )
        try:
            return self._api(settings.ports)
        except (OSError, ssl.SSLError) as exc:
            raise RefusedError(
                f"the local cluster's certificates in {self.dirs.pki} are unusable: {exc}",
                hint="`meridian cluster down --local --purge`, then `meridian cluster up --local`",
            ) from None

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One `up` or `down` at a time per state folder."""
        self.dirs.root.mkdir(parents=True, exist_ok=True)
        with (self.dirs.root / ".lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConflictError(
                    f"another `meridian cluster` command is working on {self.dirs.root}",
                    hint="wait for it to finish, then try again",
                ) from None
            yield


def start_stages(
    dirs: ClusterDir,
    stages: tuple[tuple[str, ...], ...],
    built: Mapping[str, Startable],
    *,
    started: Started,
    wait: Wait,
    say: Say,
) -> None:
    """Start each stage's components detached, and wait for all of a stage to be healthy before
    the next; `started` collects them as they start, so a caller can stop them on failure."""
    for stage in stages:
        began = time.monotonic()
        for name in stage:
            c = built[name]
            log, pid_file = dirs.log(name), dirs.pid_file(name)
            started[name] = start_detached(c.argv, log=log, pid_file=pid_file, env=c.env, cwd=dirs.root)
        for name in stage:
            wait(f"{name} to become healthy", built[name].health, started, name)
        say(f"{' + '.join(stage)}: ready in {time.monotonic() - began:.1f}s")


def refuse_taken_ports(ports: Mapping[str, int], *, hint: str, prefix: str = "") -> None:
    """A conflict naming the first port that is taken and the process holding it."""
    for use, port in ports.items():
        if is_free(port):
            continue
        found = holder(port)
        who = found.describe() if found else "another process (not visible to this user)"
        raise ConflictError(f"port {port} ({prefix}{use.replace('_', ' ')}) is in use by {who}", hint=hint)


def running_pids(dirs: ClusterDir, names: tuple[str, ...]) -> dict[int, str]:
    """Our processes by pid: from the pid files, plus any whose pid file was lost (a Python
    component is known by the module it runs, its program being the interpreter)."""
    marker = os.path.join(dirs.root, "")
    modules = {name: module for name, module in comp.PYTHON_MODULES.items() if name in names}
    found = find_ours(names, marker, modules=modules)
    for name in names:
        pid = read_pid(dirs.pid_file(name))
        if pid is not None and is_ours(pid, marker):
            found[pid] = name
    return found


def start_timeout() -> float:
    raw = os.environ.get(START_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_START_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise InputError(f"{START_TIMEOUT_ENV}={raw} is not a number of seconds above 0")
    return value


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
