"""The processes of the local control plane: how each is started and how it is seen healthy.

The flags are the ones docs/local-cluster.md explains; extra flags for one component can be given
in $MERIDIAN_CLUSTER_ARGS_<NAME> (e.g. MERIDIAN_CLUSTER_ARGS_KUBE_APISERVER="--v=4"), appended
last so they win over ours.
"""

from __future__ import annotations

import os
import shlex
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from meridian_core.errors import InputError

from meridian.cluster import egress, policy_webhook
from meridian.cluster.layout import ClusterDir, Ports

ETCD = "etcd"
APISERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
SCHEDULER = "kube-scheduler"
KWOK = "kwok"
# The API server's connections of its own go through it (egress.py): it starts before the API server.
EGRESS_PROXY = "egress-proxy"
# The policy webhook (policy_webhook.py): needs nothing of the others, the API server calls it.
OPA = policy_webhook.NAME

# Start in this order, each stage healthy before the next; stop in the reverse order.
STAGES: tuple[tuple[str, ...], ...] = (
    (EGRESS_PROXY, ETCD, OPA),
    (APISERVER,),
    (CONTROLLER_MANAGER, SCHEDULER, KWOK),
)
NAMES: tuple[str, ...] = tuple(name for stage in STAGES for name in stage)
# Components written in Python run as `python -m MODULE`: /proc shows the interpreter, not their name.
PYTHON_MODULES: dict[str, str] = {EGRESS_PROXY: "meridian.cluster.egress_proxy"}
# The components that are programs built into bin/.
BINARIES: tuple[str, ...] = tuple(name for name in NAMES if name not in PYTHON_MODULES)

# The annotation kwok selects its nodes by; nodes without it are left alone.
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
KWOK_STAGES_FILE = "kwok-stages.yaml"

_HEALTH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Plan:
    """Everything the argument lists depend on."""

    dirs: ClusterDir
    ports: Ports
    bin_dir: Path
    service_subnet: str
    # The checkout whose policies the webhook serves; the one bin_dir belongs to when not given.
    root: Path | None = None


@dataclass(frozen=True)
class Component:
    name: str
    port: int | None  # the port `status` shows and `up` checks is free (etcd's peer port is checked too)
    argv: list[str]
    env: dict[str, str]
    health: Callable[[], bool]


def server_url(ports: Ports) -> str:
    return f"https://127.0.0.1:{ports.apiserver}"


def components(plan: Plan) -> dict[str, Component]:
    d, p, b = plan.dirs, plan.ports, plan.bin_dir
    pki = d.pki
    etcd_url = f"http://127.0.0.1:{p.etcd_client}"
    peer_url = f"http://127.0.0.1:{p.etcd_peer}"
    env = dict(os.environ)
    egress_files = egress.EgressFiles(d)
    webhook_files = policy_webhook.WebhookFiles(d)
    built = {
        EGRESS_PROXY: Component(
            EGRESS_PROXY,
            None,  # Unix sockets in run/, no port
            [
                sys.executable,
                "-m",
                PYTHON_MODULES[EGRESS_PROXY],
                *(f"--socket={s}={egress_files.socket(s)}" for s in egress.SELECTIONS),
                f"--forwards={egress_files.forwards}",
                f"--server={server_url(p)}",
                f"--pki={pki}",
            ],
            env,
            lambda: egress.proxy_answers(egress_files, timeout_s=_HEALTH_TIMEOUT_S),
        ),
        OPA: Component(
            OPA,
            p.admission,
            policy_webhook.argv(b / OPA, webhook_files, plan.root or b.parent, p.admission),
            env,
            lambda: policy_webhook.answers(p.admission, pki / "ca.crt", _HEALTH_TIMEOUT_S),
        ),
        ETCD: Component(
            ETCD,
            p.etcd_client,
            [
                str(b / ETCD),
                "--name=meridian",
                f"--data-dir={d.etcd_data}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=meridian={peer_url}",
                "--initial-cluster-state=new",
                # A throw-away development store: durability is not worth the disk syncs.
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=2147483648",
                "--auto-compaction-mode=periodic",
                "--auto-compaction-retention=5m",
                "--log-level=warn",
            ],
            env,
            lambda: _get_ok(f"{etcd_url}/readyz", ca=None),
        ),
        APISERVER: Component(
            APISERVER,
            p.apiserver,
            [
                str(b / APISERVER),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                f"--secure-port={p.apiserver}",
                "--advertise-address=127.0.0.1",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={plan.service_subnet}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                # The default reconciler refuses a loopback advertise address; nothing in a
                # cluster without real pods needs endpoints for the `kubernetes` Service.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--profiling=false",
                # Webhooks, aggregated APIs, kubelet and proxy calls would dial ClusterIPs, pod and
                # node addresses: they go to the egress proxy instead, which keeps them on loopback.
                f"--egress-selector-config-file={egress_files.selector_config}",
            ],
            env,
            lambda: _get_ok(f"{server_url(p)}/readyz", ca=pki / "ca.crt"),
        ),
        CONTROLLER_MANAGER: Component(
            CONTROLLER_MANAGER,
            p.controller_manager,
            [
                str(b / CONTROLLER_MANAGER),
                f"--kubeconfig={d.component_kubeconfig('controller-manager')}",
                "--bind-address=127.0.0.1",
                f"--secure-port={p.controller_manager}",
                # Its self-signed serving certificate goes here instead of /var/run/kubernetes.
                f"--cert-dir={d.scratch('controller-manager')}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                "--use-service-account-credentials=true",
                "--controllers=*",
                # One instance only: no lease to wait for after a restart.
                "--leader-elect=false",
                "--profiling=false",
            ],
            env,
            lambda: _get_ok(f"https://127.0.0.1:{p.controller_manager}/healthz", ca=None),
        ),
        SCHEDULER: Component(
            SCHEDULER,
            p.scheduler,
            [
                str(b / SCHEDULER),
                f"--kubeconfig={d.component_kubeconfig('scheduler')}",
                "--bind-address=127.0.0.1",
                f"--secure-port={p.scheduler}",
                f"--cert-dir={d.scratch('scheduler')}",
                "--leader-elect=false",
                "--profiling=false",
            ],
            env,
            lambda: _get_ok(f"https://127.0.0.1:{p.scheduler}/healthz", ca=None),
        ),
        KWOK: Component(
            KWOK,
            None,
            [
                str(b / KWOK),
                f"--kubeconfig={d.kubeconfig}",
                # kwok has no built-in stages; these are the pinned module's defaults (see build.sh).
                f"--config={b / KWOK_STAGES_FILE}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={'='.join(KWOK_NODE_ANNOTATION)}",
                "--node-lease-duration-seconds=40",
            ],
            # kwok reads ~/.kwok/kwok.yaml if present: a HOME of its own keeps the user's out.
            {**env, "HOME": str(d.scratch("kwok-home"))},
            # No health endpoint: the manager judges kwok by its nodes being Ready.
            lambda: True,
        ),
    }
    for name, component in built.items():
        component.argv.extend(extra_args(name))
    return built


def extra_args(name: str) -> list[str]:
    variable = "MERIDIAN_CLUSTER_ARGS_" + name.upper().replace("-", "_")
    try:
        return shlex.split(os.environ.get(variable, ""))
    except ValueError as exc:
        raise InputError(f"{variable} cannot be split into arguments: {exc}") from None


def _get_ok(url: str, *, ca: Path | None) -> bool:
    """GET url answers 200. Without `ca` the serving certificate is not verified: the
    controller-manager and scheduler sign their own, and their health endpoints carry no secrets."""
    try:
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca) if ca else False
        response = httpx.get(url, verify=verify, timeout=_HEALTH_TIMEOUT_S)
    except (OSError, ssl.SSLError, httpx.HTTPError):
        return False
    return response.status_code == 200
