"""Helpers for the policy webhook's tests on a real local control plane: manifests to apply, kubectl
as a user runs it, and the gate's verdict on the same file to compare with the API server's."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from meridian_core.layout import Repo
from meridian_core.yamlio import dump_all, load_all
from meridian_infra import namespaces as ns
from support.local_cluster import REPO_ROOT, ClusterUnderTest, meridian, output

from meridian.environments import load_spec
from meridian.policy.gate import check_paths
from meridian.policy.model import Finding, Severity

APP_NAMESPACE = "orders"
EXEMPTION = "exemption.meridian.dev/"  # an app namespace of every environment
WEBHOOK_ACTIVE_S = 60.0  # how long the API server may take to see a new webhook configuration
DIGEST = "sha256:8ca97f9c6fa42baa02b99b75f200df1770b84e2d8733660662e14c0f1f50c639"


def kubectl(cluster: ClusterUnderTest, *args: str) -> subprocess.CompletedProcess[str]:
    binary = REPO_ROOT / "bin" / "kubectl"
    if not binary.exists():
        pytest.fail("bin/kubectl is missing: run `make tools` (tools/kube/build.sh)")
    return subprocess.run(
        [str(binary), "--kubeconfig", str(cluster.dirs.kubeconfig), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def dry_run(cluster: ClusterUnderTest, manifest: Path) -> subprocess.CompletedProcess[str]:
    return kubectl(cluster, "apply", "--dry-run=server", "-f", str(manifest))


def ci_only_rules(root: Path = REPO_ROOT) -> set[str]:
    opa = REPO_ROOT / "bin" / "opa"
    if not opa.exists():
        pytest.fail("bin/opa is missing: run `make tools` (meridian tools install --group go)")
    query = "data.meridian.catalog.ci_only"
    out = subprocess.run(
        [str(opa), "eval", "--format=raw", "-d", str(root / "policies" / "rego"), query],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout))


def deployment(name: str, namespace: str = APP_NAMESPACE) -> dict[str, Any]:
    """A Deployment that passes every rule, and Pod Security's restricted level."""
    labels = {"app.kubernetes.io/name": name}
    container = {
        "name": name,
        "image": f"registry.meridian.dev/apps/{name}:1.4.2@{DIGEST}",
        "ports": [{"name": "grpc", "containerPort": 8080}],
        "readinessProbe": {"grpc": {"port": 8080}},
        "livenessProbe": {"grpc": {"port": 8080}},
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "250m", "memory": "128Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                },
            },
        },
    }


def changed(obj: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    change(result)
    return result


def container_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
    return spec["containers"][0]  # type: ignore[no-any-return]


def write(folder: Path, name: str, obj: dict[str, Any]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(dump_all([obj]))
    return path


@dataclass(frozen=True)
class GateVerdict:
    denied: set[str]  # "RULE message" of each deny finding that admission enforces
    warned: set[str]  # the same for warn findings
    ci_only: set[str]  # "RULE message" of the denials left to CI


def gate_verdict(root: Path, manifest: Path, env: str) -> GateVerdict:
    """What `meridian policy check FILE --env ENV` says of the file (its Rego part)."""
    report = check_paths(Repo(root), [manifest], environment=env, checkers=["conftest"])
    ci_only = ci_only_rules(root)

    def line(f: Finding) -> str:
        return f"{f.rule} {f.message}"

    return GateVerdict(
        denied={line(f) for f in report.findings if f.severity is Severity.DENY and f.rule not in ci_only},
        warned={line(f) for f in report.findings if f.severity is Severity.WARN},
        ci_only={line(f) for f in report.findings if f.rule in ci_only},
    )


def refusal(result: subprocess.CompletedProcess[str], webhook: str) -> set[str]:
    """The lines the webhook refused with, from kubectl's error."""
    marker = f'admission webhook "{webhook}" denied the request: '
    assert result.returncode != 0, output(result)
    assert marker in result.stderr, output(result)
    return {line.strip() for line in result.stderr.split(marker, 1)[1].strip().splitlines() if line.strip()}


def warnings(result: subprocess.CompletedProcess[str]) -> set[str]:
    return {
        line.removeprefix("Warning: ")
        for line in result.stderr.splitlines()
        if line.startswith("Warning: MER-")
    }


def use_environment(cluster: ClusterUnderTest, env: str, root: Path = REPO_ROOT) -> None:
    """The webhook serves env's policies and is registered for env; env's `orders` namespace exists
    as the platform declares it (with its quota, limits and network policies)."""
    result = meridian("cluster", "up", "--local", "--admission", env, env=cluster.env, cwd=root)
    assert result.returncode == 0, output(result)
    spec = load_spec(Repo(root), env)
    for obj in ns.app_namespace_objects(spec, APP_NAMESPACE):
        applied = kubectl_apply(cluster, obj)
        assert applied.returncode == 0, output(applied)


def kubectl_apply(cluster: ClusterUnderTest, obj: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    binary = REPO_ROOT / "bin" / "kubectl"
    return subprocess.run(
        [
            str(binary),
            "--kubeconfig",
            str(cluster.dirs.kubeconfig),
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            "-",
        ],
        input=dump_all([obj]),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WEBHOOK_ACTIVE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f}s")
        time.sleep(0.5)


def stop_webhook(cluster: ClusterUnderTest) -> None:
    """SIGTERM to the opa process this cluster started, and wait until it is gone."""
    pid = int((cluster.dirs.run / "opa.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), "opa to stop", 30)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def helm_installed(release: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A chart object as Helm creates it: annotated with its release, without the annotations the
    render writes from policies/exemptions/charts.yaml (charts set none of their own)."""
    metadata = dict(obj.get("metadata") or {})
    given = metadata.get("annotations") or {}
    annotations = {k: v for k, v in given.items() if not k.startswith(EXEMPTION)}
    if not given.get("helm.sh/hook"):  # Helm does not annotate its hooks
        annotations["meta.helm.sh/release-name"] = release
    return {**obj, "metadata": {**metadata, "annotations": annotations}}


def chart_objects(rendered: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.stem, obj)
        for path in sorted((rendered / "platform" / "charts").glob("*.yaml"))
        for obj in load_all(path.read_text())
        if isinstance(obj, dict) and obj.get("kind")
    ]
