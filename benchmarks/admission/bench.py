"""Time what the policy webhook adds to each request the API server admits: the same server-side
dry runs on a local control plane with the webhook registered and without it.

    make bench-admission
    python benchmarks/admission/bench.py --requests 100 --env prod

A local control plane is started for the run (its own state folder, free ports: the developer's
cluster is left alone) with `meridian cluster up --local --admission ENV`, and stopped after. Each
round sends, one at a time, dry-run creates of a Deployment the rules admit and of one they refuse
into an app namespace; then the webhook configuration is deleted and the same requests are sent
again; then it is registered again, and so on, so both sides see the same machine. OPA's own answer
(an AdmissionReview posted to it directly, over TLS as the API server does) is timed too.

Figures, not a test: nothing here asserts a time. Results go to stdout and, as JSON, to
build/bench/admission.json.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from meridian_core.layout import Repo, find_repo
from meridian_infra import namespaces as ns
from meridian_infra import policy_webhook as pw
from meridian_infra import sizing
from meridian_infra.objects import restricted_container
from meridian_infra.spec.models import ContainerSize

from meridian.cluster.api import ApiError, KubeApi
from meridian.cluster.components import server_url
from meridian.cluster.layout import ADMISSION_OFFSET, ClusterDir, Ports
from meridian.cluster.ports import free_base
from meridian.environments import load_spec

NAMESPACE = "orders"
CONFIGURATIONS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
CONFIGURATION_PATH = f"{CONFIGURATIONS}/{pw.CONFIGURATION}"
DIGEST = "sha256:8ca97f9c6fa42baa02b99b75f200df1770b84e2d8733660662e14c0f1f50c639"
SIZE = ContainerSize(cpu_request="50m", memory_request="64Mi", cpu_limit="250m", memory_limit="128Mi")


def deployment(name: str, image: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    container = {
        "name": name,
        "image": image,
        "readinessProbe": {"grpc": {"port": 8080}},
        "livenessProbe": {"grpc": {"port": 8080}},
        "resources": sizing.resources(SIZE),
        "securityContext": restricted_container(),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65532},
                    "containers": [container],
                },
            },
        },
    }


ADMITTED = deployment("web", f"registry.meridian.dev/apps/web:1.4.2@{DIGEST}")
REFUSED = deployment("web", "registry.meridian.dev/apps/web:latest")


def free_port_base() -> int:
    return free_base(lambda base: Ports.from_base(base).by_use().values(), step=ADMISSION_OFFSET + 1)


def meridian(root: Path, env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "meridian.cli", *args],
        cwd=root,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"meridian {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def send(api: KubeApi, obj: dict[str, Any]) -> tuple[float, bool]:
    """One dry-run create: seconds, and whether it was admitted."""
    began = time.perf_counter()
    try:
        api.create(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", obj, dry_run=True)
        admitted = True
    except ApiError:
        admitted = False
    return time.perf_counter() - began, admitted


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.2)


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"unexpected verdict {what}")


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "mean_ms": statistics.fmean(ms),
        "p90_ms": ms[int(0.9 * (len(ms) - 1))],
    }


def opa_direct(port: int, ca: Path, requests: int) -> list[float]:
    """OPA alone: the AdmissionReview the API server would send, posted over one TLS connection."""
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "bench", "operation": "CREATE", "namespace": NAMESPACE, "object": ADMITTED},
    }
    context = ssl.create_default_context(cafile=str(ca))
    times = []
    with httpx.Client(verify=context, timeout=10) as client:
        for _ in range(requests):
            began = time.perf_counter()
            response = client.post(
                f"https://127.0.0.1:{port}/", json=review, extensions={"sni_hostname": pw.service_host()}
            )
            response.raise_for_status()
            times.append(time.perf_counter() - began)
    return times


def run(repo: Repo, env_name: str, requests: int, rounds: int) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="meridian-bench-admission-"))
    base = free_port_base()
    env = {"MERIDIAN_CLUSTER_DIR": str(state), "MERIDIAN_CLUSTER_PORT_BASE": str(base)}
    dirs, ports = ClusterDir(state), Ports.from_base(base)
    print(f"starting a local control plane in {state} (ports from {base}), webhook for {env_name}")
    meridian(repo.root, env, "cluster", "up", "--local", "--admission", env_name)
    try:
        with KubeApi(server_url(ports), dirs.pki) as api:
            spec = load_spec(repo, env_name)
            for obj in ns.app_namespace_objects(spec, NAMESPACE):
                path = _path(obj)
                api.apply(path, obj)
            registration = api.get(CONFIGURATION_PATH)
            registration = {k: registration[k] for k in ("apiVersion", "kind", "webhooks")} | {
                "metadata": {"name": pw.CONFIGURATION, "labels": registration["metadata"].get("labels", {})}
            }
            with_webhook: dict[str, list[float]] = {"admitted": [], "refused": []}
            without: dict[str, list[float]] = {"admitted": [], "refused": []}
            for _ in range(3):  # warm the connections, the informers and OPA
                send(api, ADMITTED)
            for round_ in range(rounds):
                wait_for(lambda: not send(api, REFUSED)[1], "the webhook to refuse")
                for kind, obj in (("admitted", ADMITTED), ("refused", REFUSED)):
                    for _ in range(requests):
                        took, admitted = send(api, obj)
                        _expect(admitted == (kind == "admitted"), f"with the webhook: {kind} was not")
                        with_webhook[kind].append(took)
                api.delete(CONFIGURATION_PATH)
                wait_for(lambda: send(api, REFUSED)[1], "the API server to drop the webhook")
                for kind, obj in (("admitted", ADMITTED), ("refused", REFUSED)):
                    for _ in range(requests):
                        took, admitted = send(api, obj)
                        _expect(admitted, f"without the webhook: {kind} was refused")
                        without[kind].append(took)
                api.create(CONFIGURATIONS, registration)
                print(f"round {round_ + 1}/{rounds} done")
        direct = opa_direct(ports.admission, dirs.pki / "ca.crt", requests * rounds)
    finally:
        meridian(repo.root, env, "cluster", "down", "--local", "--purge")
    result: dict[str, Any] = {"environment": env_name, "requests_per_round": requests, "rounds": rounds}
    for kind in ("admitted", "refused"):
        w, wo = summary(with_webhook[kind]), summary(without[kind])
        result[kind] = {
            "with_webhook": w,
            "without_webhook": wo,
            "added_median_ms": w["median_ms"] - wo["median_ms"],
            "ratio_median": w["median_ms"] / wo["median_ms"],
        }
    result["opa_direct"] = summary(direct)
    return result


def _path(obj: dict[str, Any]) -> str:
    kind = obj["kind"]
    name = obj["metadata"]["name"]
    if kind == "Namespace":
        return f"/api/v1/namespaces/{name}"
    plural = {"ResourceQuota": "resourcequotas", "LimitRange": "limitranges"}.get(kind)
    if plural:
        return f"/api/v1/namespaces/{NAMESPACE}/{plural}/{name}"
    return f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies/{name}"


def report(result: dict[str, Any]) -> None:
    env, per_round, rounds = result["environment"], result["requests_per_round"], result["rounds"]
    print()
    print(f"server-side dry-run creates of a Deployment into app namespace {NAMESPACE!r} ({env}),")
    print(f"{per_round} of each kind per round, {rounds} round(s), one request at a time")
    print(f"{'':10} {'without':>10} {'with':>10} {'added':>9} {'ratio':>7}   (median ms; p90 with)")
    for kind in ("admitted", "refused"):
        row = result[kind]
        without, with_ = row["without_webhook"], row["with_webhook"]
        print(
            f"{kind:10} {without['median_ms']:10.2f} {with_['median_ms']:10.2f} "
            f"{row['added_median_ms']:9.2f} {row['ratio_median']:6.2f}x   (p90 {with_['p90_ms']:.2f})"
        )
    direct = result["opa_direct"]
    print(
        f"OPA alone (POST / over one TLS connection): median {direct['median_ms']:.2f} ms, "
        f"p90 {direct['p90_ms']:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--env", default="prod", help="the environment whose policies the webhook serves")
    parser.add_argument("--requests", type=int, default=100, help="requests of each kind per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    repo = find_repo()
    result = run(repo, args.env, args.requests, args.rounds)
    report(result)
    out = repo.build_dir / "bench" / "admission.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {out.relative_to(repo.root)}")


if __name__ == "__main__":
    main()
