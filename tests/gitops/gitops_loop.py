"""The GitOps loop under test: a local cluster with Argo CD's controllers in a temporary state
folder, a working clone of the repository they serve, and a watch on every socket of the loop."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meridian_core.layout import find_repo
from support.local_cluster import ClusterUnderTest

from meridian.cluster.api import ApiError, KubeApi
from meridian.cluster.gitops import GitOpsLoop
from meridian.cluster.gitops_components import NAMES, NAMESPACE, GitOpsLayout, GitOpsPorts
from meridian.cluster.layout import ADMISSION_OFFSET, Ports
from meridian.cluster.ports import free_base
from meridian.cluster.procs import find_ours
from meridian.environments import load_spec

# How often Argo CD looks at git during the tests; a promotion's bound is derived from it.
POLL_S = int(os.environ.get("MERIDIAN_GITOPS_TEST_POLL_SECONDS", "5"))
# A sync needs a repo-server render and an apply on top of a poll; generous for a loaded machine.
SYNC_SLACK_S = 90.0
APPS_PATH = f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/applications"
APPSETS_PATH = f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/applicationsets"
ENVIRONMENT_LABEL = "meridian.dev/environment"


def free_loop_base() -> int:
    """A base whose control-plane ports and the loop's eight after them are all free."""
    return free_base(
        lambda base: [
            *Ports.from_base(base).by_use().values(),
            *GitOpsPorts.from_base(base).by_use().values(),
        ],
        step=ADMISSION_OFFSET + 1,
    )


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", LC_ALL="C")
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class WorkingClone:
    """A developer's clone of the served repository: branches are made here, merged and pushed."""

    path: Path

    def write(self, relative: str, text: str) -> None:
        (self.path / relative).write_text(text)

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text()

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")

    def merge_branch(self, branch: str, message: str, change: Callable[[], None]) -> str:
        """Make `change` on a new branch, merge it into main with a merge commit, push; the merge's sha."""
        git(self.path, "checkout", "-q", "-b", branch, "main")
        change()
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "-m", message)
        git(self.path, "checkout", "-q", "main")
        git(self.path, "merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch)
        git(self.path, "push", "-q", "origin", "main")
        return git(self.path, "rev-parse", "HEAD")

    def revert_merge(self, sha: str) -> str:
        git(self.path, "revert", "--no-edit", "-m", "1", sha)
        git(self.path, "push", "-q", "origin", "main")
        return git(self.path, "rev-parse", "HEAD")


@dataclass
class SocketWatch:
    """Samples the sockets of the loop's processes (TCP and UDP, v4 and v6) in the background and
    keeps every endpoint that is not loopback: a listener or a peer anywhere else fails the check."""

    marker: str
    seen: set[str] = field(default_factory=set)
    foreign: set[str] = field(default_factory=set)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        processes = find_ours(NAMES, self.marker)
        table = _socket_table()
        for pid, name in processes.items():
            for inode in _socket_inodes(pid):
                if inode not in table:
                    continue  # a Unix socket (the repo-server's askpass), not a network one
                proto, local, remote = table[inode]
                described = f"{name} {proto} {local} -> {remote}"
                self.seen.add(described)
                # The local end must be loopback (a listener on 0.0.0.0 is not); the peer may be
                # unset only while nothing is connected (a listener).
                if not _loopback(_host(local)) or not (_loopback(_host(remote)) or _unset(_host(remote))):
                    self.foreign.add(described)
        self.samples += 1


def _socket_table() -> dict[str, tuple[str, str, str]]:
    table = {}
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            rows = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            table[fields[9]] = (proto, _address(fields[1], proto), _address(fields[2], proto))
    return table


def _address(hex_address: str, proto: str) -> str:
    hex_ip, hex_port = hex_address.split(":")
    raw = bytes.fromhex(hex_ip)
    if proto.endswith("6"):
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        host = socket.inet_ntop(socket.AF_INET6, raw)
    else:
        host = socket.inet_ntop(socket.AF_INET, raw[::-1])
    return f"{host}:{int(hex_port, 16)}"


def _socket_inodes(pid: int) -> list[str]:
    inodes = []
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.append(target[8:-1])
    except (FileNotFoundError, PermissionError):
        pass
    return inodes


def _host(end: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(end.rsplit(":", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_loopback


def _unset(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_unspecified


@dataclass
class Loop:
    cluster: ClusterUnderTest
    clone: WorkingClone
    watch: SocketWatch

    @property
    def layout(self) -> GitOpsLayout:
        return GitOpsLayout(self.cluster.dirs)

    def api(self) -> KubeApi:
        return self.cluster.api()

    def application(self, api: KubeApi, name: str) -> dict[str, Any]:
        return api.get(f"{APPS_PATH}/{name}")

    def applications(self, api: KubeApi) -> list[dict[str, Any]]:
        return api.get(APPS_PATH).get("items", [])

    def terminate_operation(self, api: KubeApi, name: str) -> None:
        """What `argocd app terminate-op` does: ask the controller to stop a sync and its retries."""
        body = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "status": {"operationState": {"phase": "Terminating"}},
        }
        api.apply(f"{APPS_PATH}/{name}", body, manager="argocd-server")


def wait_until(check: Callable[[], bool], what: str, timeout_s: float, describe: Callable[[], str]) -> float:
    """Seconds it took for `check` to hold; on timeout the failure says what was seen last."""
    began = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - began
        except ApiError:
            pass
        if time.monotonic() - began > timeout_s:
            raise AssertionError(f"{what}: not reached within {timeout_s:.0f}s; last seen: {describe()}")
        time.sleep(0.5)


def sync_and_health(app: dict[str, Any]) -> tuple[str | None, str | None]:
    status = app.get("status", {})
    return status.get("sync", {}).get("status"), status.get("health", {}).get("status")


def summary(app: dict[str, Any]) -> str:
    status = app.get("status", {})
    conditions = [c.get("message", "") for c in status.get("conditions", [])]
    operation = status.get("operationState", {})
    # Why a sync failed is told per resource; the operation's own message only counts attempts.
    failed = [
        f"{r.get('kind')}/{r.get('name')}: {r.get('message')}"
        for r in operation.get("syncResult", {}).get("resources", [])
        if r.get("status") != "Synced"
    ]
    return (
        f"{app['metadata']['name']}: {sync_and_health(app)} conditions={conditions} "
        f"operation={operation.get('message', '')!r} failed={failed}"
    )


def hand_over_alone(loop: Loop, api: KubeApi, env: str) -> None:
    """Hand `env` to the loop as the only environment: the local cluster is one cluster, and every
    environment's ApplicationSet names its Applications after the apps, so the ApplicationSets
    handed over before are deleted first (their Applications, and through Argo CD's resources
    finalizer their workloads, with them)."""
    for appset in api.get(APPSETS_PATH).get("items", []):
        api.delete(f"{APPSETS_PATH}/{appset['metadata']['name']}")
    wait_until(
        lambda: not loop.applications(api),
        "the Applications of the environments handed over before gone",
        3 * SYNC_SLACK_S,
        lambda: str([a["metadata"]["name"] for a in loop.applications(api)]),
    )
    GitOpsLoop(find_repo(), loop.cluster.dirs).hand_over(api, env)


def assert_one_application_per_app(loop: Loop, api: KubeApi, env: str, timeout_s: float) -> float:
    """Wait for env's ApplicationSet to generate its Applications, then check there is exactly one
    per app of env's spec, each aimed at its own namespace and overlay; the seconds it took."""
    apps = sorted(load_spec(find_repo(), env).apps)
    # The generator reads the app folders of the served repository; they are the spec's apps.
    overlays = loop.clone.path / "environments" / env / "apps"
    folders = sorted(p.name for p in overlays.iterdir() if p.is_dir())
    assert folders == apps, f"{env}: app folders {folders} are not the spec's apps {apps}"

    def env_applications() -> list[dict[str, Any]]:
        return [
            a for a in loop.applications(api) if a["metadata"].get("labels", {}).get(ENVIRONMENT_LABEL) == env
        ]

    took = wait_until(
        lambda: sorted(a["metadata"]["name"] for a in env_applications()) == apps,
        f"one Application per {env} app",
        timeout_s,
        lambda: str([(a["metadata"]["name"], a["spec"].get("project")) for a in loop.applications(api)]),
    )
    applications = loop.applications(api)
    assert sorted(a["metadata"]["name"] for a in applications) == apps, "Applications of another environment"
    for application in applications:
        name, spec = application["metadata"]["name"], application["spec"]
        assert spec["project"] == f"meridian-{env}", name
        assert spec["destination"] == {"server": "https://kubernetes.default.svc", "namespace": name}
        assert spec["source"]["path"] == f"environments/{env}/apps/{name}"
        assert spec["source"]["repoURL"].startswith("git://127.0.0.1:")
    return took
