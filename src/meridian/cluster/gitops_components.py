"""The processes of the local GitOps loop: Redis, the git server, and Argo CD's repo-server,
ApplicationSet controller and application controller; how each is started and seen healthy.

Every listener is on 127.0.0.1 and every address a process is given is a loopback one: the API
server, Redis, the repo-server and the git server. Argo CD's components are one binary that picks
its part by the name it was started under, so each runs from a link named for it inside the state
folder (which also makes its command line name the state folder, as `is_ours` requires).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from meridian_core.errors import InputError
from meridian_core.layout import Below
from meridian_core.statefile import read_json_state

from meridian.cluster.components import extra_args
from meridian.cluster.layout import ClusterDir, PortBlock

REDIS = "redis-server"
GIT = "git-daemon"
REPO_SERVER = "argocd-repo-server"
APPSET = "argocd-applicationset-controller"
APP_CONTROLLER = "argocd-application-controller"
ARGOCD_PARTS = (REPO_SERVER, APPSET, APP_CONTROLLER)

# Start in this order, each stage healthy before the next; stop in the reverse order.
STAGES: tuple[tuple[str, ...], ...] = ((REDIS, GIT), (REPO_SERVER,), (APPSET, APP_CONTROLLER))
NAMES: tuple[str, ...] = tuple(name for stage in STAGES for name in stage)

NAMESPACE = "argocd"
SERVED_REPO = "meridian.git"
POLL_ENV = "MERIDIAN_GITOPS_POLL_SECONDS"
# Argo CD's own default is 180 s plus up to 60 s of jitter; a developer's loop answers faster.
DEFAULT_POLL_S = 30
# The control plane takes the first five ports of a base; the loop takes the next eight.
PORT_OFFSET = 5
_HEALTH_TIMEOUT_S = 5.0
_REWRITE_SETTINGS = "run `meridian cluster down --local`, then `meridian cluster up --local --gitops`"


@dataclass(frozen=True)
class GitOpsPorts(PortBlock):
    """Argo CD's and the loop's git server's ports: the eight after the control plane's."""

    OFFSETS = tuple(range(PORT_OFFSET, PORT_OFFSET + 8))
    DEFAULTS = (16379, 19418, 18081, 18084, 18082, 18080, 18085, 17000)

    redis: int
    git: int
    repo_server: int
    repo_server_metrics: int
    controller_metrics: int
    appset_metrics: int
    appset_probe: int
    appset_webhook: int

    @property
    def repo_url(self) -> str:
        """The repository Argo CD reads, from the loop's git server."""
        return f"git://127.0.0.1:{self.git}/{SERVED_REPO}"


@dataclass(frozen=True)
class GitOpsSettings:
    """What the loop was started with, kept in the state folder for `status` and `down`."""

    ports: GitOpsPorts
    poll_s: int

    def to_json(self) -> str:
        return json.dumps({"ports": self.ports.by_use(), "pollSeconds": self.poll_s}, indent=2) + "\n"

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> GitOpsSettings:
        return cls(GitOpsPorts(**data["ports"]), int(data["pollSeconds"]))


def poll_seconds() -> int:
    raw = os.environ.get(POLL_ENV, "").strip()
    if not raw:
        return DEFAULT_POLL_S
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(
            f"{POLL_ENV}={raw} is not a whole number of seconds above 0",
            hint="it is how often Argo CD looks for new commits in the served repository",
        )
    return int(raw)


@dataclass(frozen=True)
class GitOpsLayout:
    """Where the loop keeps its files inside the cluster's state folder."""

    dirs: ClusterDir
    root = Below("dirs.root", "gitops")
    settings_file = Below("root", "gitops.json")
    served = Below("root", "git")  # the git server's base path
    served_repo = Below("served", SERVED_REPO)  # the repository Argo CD reads
    links = Below("root", "bin")

    def home(self, name: str) -> Path:
        return self.root / "home" / name

    def read_settings(self) -> GitOpsSettings | None:
        return read_json_state(self.settings_file, GitOpsSettings.from_data, hint=_REWRITE_SETTINGS)


@dataclass(frozen=True)
class GitOpsPlan:
    layout: GitOpsLayout
    settings: GitOpsSettings
    bin_dir: Path
    git_daemon: Path
    redis_server: Path


@dataclass(frozen=True)
class GitOpsComponent:
    name: str
    port: int
    argv: list[str]
    env: dict[str, str]
    health: Callable[[], bool]


def components(plan: GitOpsPlan) -> dict[str, GitOpsComponent]:
    layout, p = plan.layout, plan.settings.ports
    kubeconfig = str(layout.dirs.kubeconfig)
    repo_server = f"127.0.0.1:{p.repo_server}"
    redis = f"127.0.0.1:{p.redis}"
    poll = plan.settings.poll_s
    base_env = dict(os.environ)
    # The repository's own tools first: the repo-server runs bin/kustomize, as `meridian render` does.
    base_env["PATH"] = os.pathsep.join([str(plan.bin_dir), base_env.get("PATH", "")])

    def argocd_env(name: str) -> dict[str, str]:
        return {
            **base_env,
            # A HOME of its own: no personal ~/.kube/config, ~/.gitconfig or ~/.config is read.
            "HOME": str(layout.home(name)),
            "TMPDIR": str(layout.home(name) / "tmp"),
            "KUBECONFIG": kubeconfig,
            # The in-cluster destination (https://kubernetes.default.svc) means "the cluster of my
            # kubeconfig", as in Argo CD's own local runs, instead of a pod's service account.
            "ARGOCD_FAKE_IN_CLUSTER": "true",
            # How often the controller compares with git and how long the repo-server trusts
            # a branch's resolved commit: the loop's poll interval for both, without jitter.
            "ARGOCD_RECONCILIATION_TIMEOUT": f"{poll}s",
            "ARGOCD_RECONCILIATION_JITTER": "0s",
            "ARGOCD_GPG_ENABLED": "false",
            "ARGOCD_ASK_PASS_SOCK": str(layout.home(name) / "askpass.sock"),
        }

    link = layout.links
    built = {
        REDIS: GitOpsComponent(
            REDIS,
            p.redis,
            [
                str(plan.redis_server),
                "--bind",
                "127.0.0.1",
                "--port",
                str(p.redis),
                "--protected-mode",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(layout.home(REDIS)),
                # Keep the command line as given: it names the state folder, which is how
                # `down` recognises this Redis as ours.
                "--set-proc-title",
                "no",
                "--logfile",
                "",
            ],
            base_env,
            lambda: _redis_pong(p.redis),
        ),
        GIT: GitOpsComponent(
            GIT,
            p.git,
            [
                str(plan.git_daemon),
                "--listen=127.0.0.1",
                f"--port={p.git}",
                f"--base-path={layout.served}",
                "--export-all",
                "--reuseaddr",
                "--informative-errors",
                "--verbose",
                str(layout.served),
            ],
            {**base_env, "HOME": str(layout.home(GIT))},
            lambda: _accepts(p.git),
        ),
        REPO_SERVER: GitOpsComponent(
            REPO_SERVER,
            p.repo_server,
            [
                str(link / REPO_SERVER),
                "--address=127.0.0.1",
                f"--port={p.repo_server}",
                "--metrics-address=127.0.0.1",
                f"--metrics-port={p.repo_server_metrics}",
                f"--redis={redis}",
                "--logformat=text",
            ],
            argocd_env(REPO_SERVER),
            # full=true: the repo-server calls its own gRPC health service, not just HTTP.
            lambda: _get_ok(f"http://127.0.0.1:{p.repo_server_metrics}/healthz?full=true"),
        ),
        APPSET: GitOpsComponent(
            APPSET,
            p.appset_metrics,
            [
                str(link / APPSET),
                f"--kubeconfig={kubeconfig}",
                f"--namespace={NAMESPACE}",
                f"--argocd-repo-server={repo_server}",
                f"--metrics-addr=127.0.0.1:{p.appset_metrics}",
                f"--probe-addr=127.0.0.1:{p.appset_probe}",
                f"--webhook-addr=127.0.0.1:{p.appset_webhook}",
                # Only the git generator is used; no generator may call out to an SCM's API.
                "--enable-scm-providers=false",
                "--logformat=text",
            ],
            argocd_env(APPSET),
            # Argo CD registers no checks on its probe address, which therefore answers 404; the
            # metrics endpoint answers once the controller's manager runs.
            lambda: _get_ok(f"http://127.0.0.1:{p.appset_metrics}/metrics"),
        ),
        APP_CONTROLLER: GitOpsComponent(
            APP_CONTROLLER,
            p.controller_metrics,
            [
                str(link / APP_CONTROLLER),
                f"--kubeconfig={kubeconfig}",
                f"--namespace={NAMESPACE}",
                f"--repo-server={repo_server}",
                f"--redis={redis}",
                # Served on 127.0.0.1 by the build (tools/argocd/build.sh): no flag sets the address.
                f"--metrics-port={p.controller_metrics}",
                f"--app-resync={poll}",
                "--app-resync-jitter=0",
                "--logformat=text",
            ],
            argocd_env(APP_CONTROLLER),
            lambda: _get_ok(f"http://127.0.0.1:{p.controller_metrics}/healthz"),
        ),
    }
    for name, component in built.items():
        component.argv.extend(extra_args(name))
    return built


def prepare_links(plan: GitOpsPlan) -> None:
    """The links Argo CD's parts start from, and the folders each may write into."""
    plan.layout.links.mkdir(parents=True, exist_ok=True)
    target = plan.bin_dir / "argocd"
    for name in ARGOCD_PARTS:
        path = plan.layout.links / name
        if path.is_symlink() and path.readlink() == target:
            continue
        path.unlink(missing_ok=True)
        path.symlink_to(target)
    for name in NAMES:
        (plan.layout.home(name) / "tmp").mkdir(parents=True, exist_ok=True)
    plan.layout.served.mkdir(parents=True, exist_ok=True)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=_HEALTH_TIMEOUT_S):
            return True
    except OSError:
        return False


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=_HEALTH_TIMEOUT_S) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=_HEALTH_TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        return False
