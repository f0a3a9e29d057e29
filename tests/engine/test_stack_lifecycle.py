"""The real Pulumi engine (bin/) runs the real program against a real local control plane.

Each test works in a scratch project: the repository's program, environments and tools, with its
own state backend, passphrase, stack config and cluster, so the developer's dev stack is never
touched. The scratch Pulumi.yaml points the Python runtime at the repository's .venv directly
(the checked-in one lets the uv toolchain sync it first); everything else is the checked-in setup.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from meridian_infra.chart_sources import MIRROR_ENV
from meridian_infra.charts import CHARTS
from support.chart_archives import pinned_charts_source
from support.egress_watch import combined, process_tree, watch_connections
from support.local_cluster import REPO_ROOT, free_port_base, wait_for

from meridian.cluster.api import KubeApi
from meridian.cluster.components import NAMES, PYTHON_MODULES, server_url
from meridian.cluster.egress import log_entries
from meridian.cluster.layout import Ports
from meridian.cluster.procs import find_ours
from meridian.engine import Stack
from meridian.paths import Repo

pytestmark = pytest.mark.slow

LINKED = ("infra", "environments", "tools", "bin", "apps", "policies")  # policies: the local policy webhook
TIMEOUT_S = 900
PULUMI = str(REPO_ROOT / "bin" / "pulumi")


@dataclass
class Project:
    root: Path
    cluster_dir: Path
    port_base: int
    chart_mirror: str  # $MERIDIAN_CHART_MIRROR for the program, or "upstream"

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

    def pulumi_env(self) -> dict[str, str]:
        """What `meridian` gives the engine in this project (its backend, its passphrase file)."""
        with mock.patch.dict(os.environ, self.env, clear=True):
            return Stack(Repo(self.root), "dev").environment()

    def pulumi(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(REPO_ROOT / "bin" / "pulumi"), *args, "--stack", "dev", "--non-interactive"],
            cwd=self.root,
            env=self.pulumi_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )

    def start_pulumi(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(REPO_ROOT / "bin" / "pulumi"), *args, "--stack", "dev", "--non-interactive"],
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


def namespace_exists(project: Project, name: str) -> bool:
    with project.api() as api:
        return api.exists(f"/api/v1/namespaces/{name}")


def output(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("engine-project")
    for name in LINKED:
        (root / name).symlink_to(REPO_ROOT / name)
    (root / "Pulumi.yaml").write_text(
        "name: meridian\n"
        "runtime:\n  name: python\n  options:\n"
        f"    virtualenv: {REPO_ROOT / '.venv'}\n"
        "main: infra/\n"
    )
    made = Project(root, root / "cluster", free_port_base(), pinned_charts_source())
    yield made
    made.meridian("destroy", "dev")
    for pid in made.plugin_processes():
        os.kill(pid, signal.SIGKILL)
    made.meridian("cluster", "down", "--local", "--purge")


def installed_releases(project: Project) -> dict[str, str]:
    """Helm's own record of each release in the cluster: release name -> status of its newest revision."""
    found: dict[str, str] = {}
    with project.api() as api:
        for pin in CHARTS.values():
            listing = api.get(f"/api/v1/namespaces/{pin.namespace}/secrets?labelSelector=owner%3Dhelm")
            for secret in listing["items"]:
                labels = secret["metadata"]["labels"]
                found[labels["name"]] = labels["status"]
    return found


def test_up_installs_every_chart_then_a_second_up_changes_nothing(project):
    # The charts register admission webhooks the API server then calls: its egress is pinned to
    # loopback, and nothing of the command, the engine or the control plane may leave it.
    running = project.start_meridian("up", "dev")
    with watch_connections(combined(process_tree(running.pid), project.cluster_processes)) as watch:
        stdout, _ = running.communicate(timeout=TIMEOUT_S)
    first = subprocess.CompletedProcess(running.args, running.returncode, stdout, "")
    assert first.returncode == 0, output(first)
    assert "created" in first.stdout
    watch.assert_loopback_only()
    assert {"kube-apiserver", "pulumi-resource-kubernetes"} <= watch.seen_programs(), watch.seen_programs()
    # The webhooks' calls went to the egress proxy, not to the network: the charts' were refused,
    # the policy webhook's (declared by the program) forwarded to OPA on loopback.
    tunnels = [
        e
        for e in log_entries(project.cluster_dir / "logs" / "egress-proxy.log")
        if e.get("event") == "tunnel"
    ]
    charts = [t for t in tunnels if t.get("service") != "meridian-admission/opa:443"]
    policy = [t for t in tunnels if t.get("service") == "meridian-admission/opa:443"]
    assert charts and {t["verdict"] for t in charts} == {"refused"}, charts[:5]
    assert policy and {t["verdict"] for t in policy} == {"forwarded"}, policy[:5]
    assert "skipping it" not in first.stdout, output(first)
    assert installed_releases(project) == {name: "deployed" for name in CHARTS}
    assert namespace_exists(project, "orders") and namespace_exists(project, "inventory")
    with project.api() as api:
        quota = api.get("/api/v1/namespaces/orders/resourcequotas/compute")
        deny = api.get("/apis/networking.k8s.io/v1/namespaces/inventory/networkpolicies/default-deny")
    assert quota["spec"]["hard"]["pods"] == "3"
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]

    drift = project.meridian("drift", "dev")
    assert drift.returncode == 0, output(drift)
    assert "dev: no drift" in drift.stdout

    second = project.meridian("up", "dev")
    assert second.returncode == 0, output(second)
    assert " created" not in second.stdout and "unchanged" in second.stdout


def test_validate_checks_every_object_once_the_charts_installed_their_crds(project):
    validated = project.meridian("validate", "dev")
    assert validated.returncode == 0, output(validated)
    assert " 0 rejected" in validated.stdout and " 0 unchecked" in validated.stdout, output(validated)


def test_a_second_concurrent_update_is_refused_by_the_lock(project):
    first = project.start_pulumi("up", "--yes", "--skip-preview")
    try:
        wait_for(lambda: bool(project.locks()) or first.poll() is not None, "the first update holds the lock")
        assert first.poll() is None, first.stdout.read() if first.stdout else ""
        # Both at once, while the first still holds the lock: an update with nothing to change is short.
        wrapping = project.start_meridian("up", "dev")
        raw = project.pulumi("up", "--yes", "--skip-preview")
        wrapped_out, _ = wrapping.communicate(timeout=TIMEOUT_S)
    finally:
        first_out, _ = first.communicate(timeout=TIMEOUT_S)
    assert first.returncode == 0, first_out
    assert raw.returncode != 0
    assert "the stack is currently locked" in raw.stderr + raw.stdout
    assert wrapping.returncode == 3, wrapped_out
    assert "locked by a running update" in wrapped_out


def test_an_update_killed_mid_way_is_recovered(project):
    project.meridian("destroy", "dev")
    running = project.start_meridian("up", "dev")
    wait_for(
        lambda: namespace_exists(project, "argocd") or running.poll() is not None,
        "the update has started creating objects",
    )
    os.killpg(running.pid, signal.SIGKILL)
    running.wait(timeout=60)
    # The engine starts its plugins in process groups of their own: kill them as a crash would.
    for pid in project.plugin_processes():
        os.kill(pid, signal.SIGKILL)
    time.sleep(1)  # let the killed plugins' sockets close
    assert project.locks(), "a killed update leaves its lock behind"

    refused = project.meridian("up", "dev")
    assert refused.returncode == 3, output(refused)
    assert "meridian recover dev" in refused.stderr

    recovered = project.meridian("recover", "dev")
    assert recovered.returncode == 0, output(recovered)
    assert "removed the stale lock" in recovered.stdout
    assert not project.locks()
    exported = project.pulumi("stack", "export")
    assert exported.returncode == 0, output(exported)
    assert not json.loads(exported.stdout)["deployment"].get("pending_operations")

    again = project.meridian("up", "dev")
    assert again.returncode == 0, output(again)


def test_destroy_removes_the_platform_and_leaves_only_the_charts_crds(project):
    destroyed = project.meridian("destroy", "dev")
    assert destroyed.returncode == 0, output(destroyed)
    wait_for(lambda: not namespace_exists(project, "orders"), "namespace orders deleted")
    for pin in CHARTS.values():
        wait_for(
            lambda ns=pin.namespace: not namespace_exists(project, ns), f"namespace {pin.namespace} deleted"
        )
    assert installed_releases(project) == {}
