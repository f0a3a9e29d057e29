"""Acceptance on a real API server: what the policy gate denies, the API server refuses at admission,
with the same rule ids and messages; what it only warns about comes back as warnings; what is CI's
alone is admitted; and a stopped webhook fails closed or open as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from admission_harness import (
    APP_NAMESPACE,
    changed,
    container_of,
    deployment,
    dry_run,
    gate_verdict,
    kubectl,
    kubectl_apply,
    refusal,
    stop_webhook,
    use_environment,
    wait_until,
    warnings,
    write,
)
from meridian_core.layout import Repo
from meridian_infra import namespaces as ns
from support.egress_watch import SocketRow, parse_table, watch_connections
from support.local_cluster import REPO_ROOT, ClusterUnderTest, output

from meridian.cluster.egress import EgressFiles, read_forwards
from meridian.environments import load_spec

pytestmark = pytest.mark.slow

APPS_WEBHOOK = "apps.admission.meridian.dev"
PLATFORM_WEBHOOK = "platform.admission.meridian.dev"


def _privileged(obj):
    sc = container_of(obj)["securityContext"]
    sc["privileged"] = True
    del sc["allowPrivilegeEscalation"]  # the API server refuses privileged without escalation


def _latest(obj):
    container_of(obj)["image"] = "registry.meridian.dev/apps/web:latest"


def _no_limits(obj):
    del container_of(obj)["resources"]["limits"]


CASES = {"privileged": _privileged, "latest": _latest, "no-limits": _no_limits}


def test_the_webhook_is_a_component_on_loopback_only(admission_cluster: ClusterUnderTest, tmp_path: Path):
    result = admission_cluster.run("cluster", "status", "--local")
    assert result.returncode == 0, output(result)
    row = next(line for line in result.stdout.splitlines() if line.split() and line.split()[0] == "opa")
    port = admission_cluster.ports.admission
    assert str(port) in row and "ok" in row
    forwards = read_forwards(EgressFiles(admission_cluster.dirs).forwards)
    assert [(f.key, f.target) for f in forwards] == [("meridian-admission/opa:443", f"127.0.0.1:{port}")]
    pid = admission_cluster.pids()["opa"]
    listening = _listening(pid)
    assert listening and {row.local for row in listening} == {f"127.0.0.1:{port}"}
    # While the API server calls it, its connections are loopback ones too.
    use_environment(admission_cluster, "prod")
    pid = admission_cluster.pids()["opa"]  # restarted if the environment changed
    manifest = write(tmp_path, "latest", changed(deployment("web"), _latest))
    with watch_connections(lambda: [pid], interval_s=0.01) as watch:
        for _ in range(20):
            assert dry_run(admission_cluster, manifest).returncode != 0
    assert {c.program for c in watch.connections} == {"opa"}, watch.connections
    watch.assert_loopback_only()


def _listening(pid: int) -> list[SocketRow]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = str(fd.readlink())
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    rows = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        rows += parse_table(table, Path(f"/proc/net/{table}").read_text())
    return [r for r in rows if r.inode in inodes and r.state in ("LISTEN", "07")]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_the_rule_and_message_the_gate_prints(
    admission_cluster: ClusterUnderTest, tmp_path: Path, env: str, case: str
):
    use_environment(admission_cluster, env)
    manifest = write(tmp_path, case, changed(deployment("web"), CASES[case]))
    gate = gate_verdict(REPO_ROOT, manifest, env)
    assert gate.denied, "the gate denies the file"
    result = dry_run(admission_cluster, manifest)
    assert refusal(result, APPS_WEBHOOK) == gate.denied
    assert warnings(result) == gate.warned


def test_a_privileged_pod_is_refused_in_a_privileged_platform_namespace(
    admission_cluster: ClusterUnderTest, tmp_path: Path
):
    """Pod Security admission lets a privileged pod into `monitoring` (its level is privileged, for
    node-exporter); the webhook refuses it as the gate does. In an app namespace Pod Security's
    restricted level refuses a bare pod before any webhook is asked."""
    use_environment(admission_cluster, "prod")
    monitoring = ns.platform_namespace_objects(load_spec(Repo(REPO_ROOT), "prod"), "monitoring")[0]
    assert kubectl_apply(admission_cluster, monitoring).returncode == 0
    # The ServiceAccount admission plugin, before any webhook, wants the pod's account to exist.
    _service_account(admission_cluster, "monitoring", "node-tool")
    _service_account(admission_cluster, APP_NAMESPACE, "node-tool")
    template = deployment("node-tool", "monitoring")["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "node-tool", "namespace": "monitoring"}}
    pod["spec"] = template["spec"]
    manifest = write(tmp_path, "pod", changed(pod, _privileged))
    gate = gate_verdict(REPO_ROOT, manifest, "prod")
    assert any(line.startswith("MER-PSS-001 Pod monitoring/node-tool: ") for line in gate.denied)
    assert refusal(dry_run(admission_cluster, manifest), PLATFORM_WEBHOOK) == gate.denied
    in_app = write(
        tmp_path,
        "pod-app",
        changed({**pod, "metadata": {"name": "x", "namespace": APP_NAMESPACE}}, _privileged),
    )
    result = dry_run(admission_cluster, in_app)
    assert result.returncode != 0 and 'violates PodSecurity "restricted' in result.stderr, output(result)


def test_warnings_are_returned_on_an_admitted_object(admission_cluster: ClusterUnderTest, tmp_path: Path):
    use_environment(admission_cluster, "prod")

    def tag_only(obj):
        container_of(obj)["image"] = "registry.meridian.dev/apps/web:1.4.2"
        del container_of(obj)["resources"]["limits"]["cpu"]

    manifest = write(tmp_path, "warned", changed(deployment("web"), tag_only))
    gate = gate_verdict(REPO_ROOT, manifest, "prod")
    assert not gate.denied and {w.split()[0] for w in gate.warned} == {"MER-IMG-002", "MER-RES-003"}
    result = dry_run(admission_cluster, manifest)
    assert result.returncode == 0, output(result)
    assert warnings(result) == gate.warned


def test_rules_left_to_ci_do_not_refuse(admission_cluster: ClusterUnderTest, tmp_path: Path):
    """Alone, a prod Deployment has neither its PodDisruptionBudget nor its autoscaler in view."""
    use_environment(admission_cluster, "prod")

    def one_replica(obj):
        obj["spec"]["replicas"] = 1

    manifest = write(tmp_path, "single", changed(deployment("web"), one_replica))
    gate = gate_verdict(REPO_ROOT, manifest, "prod")
    assert not gate.denied and {c.split()[0] for c in gate.ci_only} == {"MER-AVL-001", "MER-AVL-002"}
    result = dry_run(admission_cluster, manifest)
    assert result.returncode == 0, output(result)


def test_an_exempted_workload_rolls_out_its_pods_are_not_judged_again(
    admission_cluster: ClusterUnderTest, tmp_path: Path
):
    """The exemption annotation is on the Deployment, not on the ReplicaSet's pods: the webhook is
    not called for what a controller makes for its owner, so the pods start."""
    use_environment(admission_cluster, "staging")
    name = "writable"

    def writable(obj):
        container_of(obj)["securityContext"]["readOnlyRootFilesystem"] = False

    def exempted(obj):
        obj["metadata"]["annotations"] = {
            "exemption.meridian.dev/MER-PSS-015": "expires=2099-12-31; reason=writes its cache to /var"
        }

    unexempted = write(tmp_path, "unexempted", changed(deployment(name), writable))
    assert {line.split()[0] for line in refusal(dry_run(admission_cluster, unexempted), APPS_WEBHOOK)} == {
        "MER-PSS-015"
    }
    _service_account(admission_cluster, APP_NAMESPACE, name)
    result = kubectl_apply(admission_cluster, changed(changed(deployment(name), writable), exempted))
    assert result.returncode == 0, output(result)
    try:

        def pods_running() -> bool:
            found = kubectl(
                admission_cluster,
                "-n",
                APP_NAMESPACE,
                "get",
                "pods",
                "-l",
                f"app.kubernetes.io/name={name}",
                "-o",
                "json",
            )
            items = json.loads(found.stdout or "{}").get("items", [])
            return len([p for p in items if p.get("status", {}).get("phase") == "Running"]) == 2

        wait_until(pods_running, "the exempted Deployment's two pods to run", 120)
    finally:
        kubectl(admission_cluster, "-n", APP_NAMESPACE, "delete", "deployment", name, "--wait=false")


def _service_account(cluster: ClusterUnderTest, namespace: str, name: str) -> None:
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
    }
    result = kubectl_apply(cluster, account)
    assert result.returncode == 0, output(result)


def test_a_chart_exemption_applies_to_what_helm_installed_for_its_release(
    admission_cluster: ClusterUnderTest, tmp_path: Path
):
    """policies/exemptions/charts.yaml exempts Argo CD's application controller StatefulSet from
    MER-PRB-002 (no liveness probe): matched by Helm's release annotation, kind and name."""
    use_environment(admission_cluster, "prod")
    argocd = ns.platform_namespace_objects(load_spec(Repo(REPO_ROOT), "prod"), "argocd")[0]
    assert kubectl_apply(admission_cluster, argocd).returncode == 0
    name = "argo-cd-argocd-application-controller"

    def as_chart_object(obj):
        obj["kind"] = "StatefulSet"
        obj["spec"]["serviceName"] = name
        del container_of(obj)["livenessProbe"]

    statefulset = changed(deployment(name, "argocd"), as_chart_object)
    released = changed(
        statefulset, lambda o: o["metadata"].update(annotations={"meta.helm.sh/release-name": "argo-cd"})
    )
    assert dry_run(admission_cluster, write(tmp_path, "released", released)).returncode == 0
    other = changed(
        statefulset, lambda o: o["metadata"].update(annotations={"meta.helm.sh/release-name": "argo"})
    )
    lines = refusal(dry_run(admission_cluster, write(tmp_path, "other", other)), PLATFORM_WEBHOOK)
    assert {line.split()[0] for line in lines} == {"MER-PRB-002"}


@pytest.mark.parametrize(("env", "admitted"), [("dev", True), ("staging", False), ("prod", False)])
def test_a_stopped_webhook_fails_as_documented(
    admission_cluster: ClusterUnderTest, tmp_path: Path, env: str, admitted: bool
):
    use_environment(admission_cluster, env)
    latest = write(tmp_path, "latest", changed(deployment("web"), _latest))
    assert dry_run(admission_cluster, latest).returncode != 0, "refused while the webhook runs"
    stop_webhook(admission_cluster)
    try:
        result = dry_run(admission_cluster, latest)
        if admitted:
            assert result.returncode == 0, output(result)  # failurePolicy Ignore
        else:
            assert result.returncode != 0
            assert f'failed calling webhook "{APPS_WEBHOOK}"' in result.stderr, output(result)
            assert "is not answering" in result.stderr  # the egress proxy's word for the stopped process
        # Platform namespaces fail open everywhere: no chart waits for the webhook.
        argocd = ns.platform_namespace_objects(load_spec(Repo(REPO_ROOT), env), "argocd")[0]
        assert kubectl_apply(admission_cluster, argocd).returncode == 0
        platform = write(tmp_path, "platform", changed(deployment("web", "argocd"), _latest))
        assert dry_run(admission_cluster, platform).returncode == 0
    finally:
        restarted = admission_cluster.run("cluster", "up", "--local")
        assert restarted.returncode == 0, output(restarted)
    assert "policy webhook now serves" in restarted.stderr  # the webhook alone was restarted
    assert dry_run(admission_cluster, latest).returncode != 0
