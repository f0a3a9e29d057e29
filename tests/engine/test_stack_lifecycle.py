"""The real Pulumi engine (bin/) runs the real program against a real local control plane.

Each test works in a scratch project (support.engine_project): the repository's program,
environments and tools, with its own state backend, passphrase, stack config and cluster, so the
developer's dev stack is never touched.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from meridian_infra.charts import CHARTS
from support.chart_archives import pinned_charts_source
from support.egress_watch import combined, process_tree, watch_connections
from support.engine_project import TIMEOUT_S, Project, make_project_root, output
from support.local_cluster import REPO_ROOT, free_port_base, wait_for

from meridian.cluster.api import KubeApi
from meridian.cluster.egress import log_entries
from meridian.render.chart_templates import ChartLoader

pytestmark = pytest.mark.slow

KUBECTL = str(REPO_ROOT / "bin" / "kubectl")


def namespace_exists(project: Project, name: str) -> bool:
    with project.api() as api:
        return api.exists(f"/api/v1/namespaces/{name}")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = make_project_root(tmp_path_factory.mktemp("engine-project"))
    made = Project(root, root / "cluster", free_port_base(), pinned_charts_source())
    yield made
    made.meridian("destroy", "dev")
    for pid in made.plugin_processes():
        os.kill(pid, signal.SIGKILL)
    made.meridian("cluster", "down", "--local", "--purge")


@pytest.fixture(scope="module")
def bare_cluster(project: Project) -> dict[str, set[str]]:
    """The cluster-scoped objects of the local control plane before the platform is installed:
    what destroy must get back to, apart from what the docs say it leaves."""
    started = project.meridian("cluster", "up", "--local")
    assert started.returncode == 0, output(started)
    with project.api() as api:
        return cluster_scoped_objects(api)


@pytest.fixture(scope="module")
def dev_render(project: Project) -> Path:
    """`meridian render dev --platform` in the project: build/crds/dev holds the charts' CRDs."""
    rendered = project.meridian("render", "dev", "--platform")
    assert rendered.returncode == 0, output(rendered)
    return project.root / "build" / "crds" / "dev"


def cluster_scoped_objects(api: KubeApi) -> dict[str, set[str]]:
    """Every cluster-scoped object the API server lists, by kind (API discovery, preferred versions)."""
    versions = ["/api/v1"] + [
        f"/apis/{group['preferredVersion']['groupVersion']}" for group in api.get("/apis")["groups"]
    ]
    found: dict[str, set[str]] = {}
    for version in versions:
        for resource in api.get(version)["resources"]:
            if resource["namespaced"] or "/" in resource["name"] or "list" not in resource["verbs"]:
                continue
            items = api.get(f"{version}/{resource['name']}")["items"]
            found.setdefault(resource["kind"], set()).update(i["metadata"]["name"] for i in items)
    return found


def kubectl(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(project.cluster_dir / "kubeconfig"), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


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


def test_up_installs_every_chart_then_a_second_up_changes_nothing(project, bare_cluster):
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
    # The engine's own record of that update: every resource the same, none created, updated,
    # replaced or deleted.
    assert last_update_changes(project) == {"same"}, output(second)


def last_update_changes(project: Project) -> set[str]:
    history = project.pulumi("stack", "history", "--json")
    assert history.returncode == 0, output(history)
    updates = [u for u in json.loads(history.stdout) if u.get("kind") == "update"]
    latest = max(updates, key=lambda u: u.get("version", 0))
    assert latest["result"] == "succeeded", latest
    return {kind for kind, count in (latest.get("resourceChanges") or {}).items() if count}


def test_the_documented_crd_step_moves_chart_crds_that_helm_left_behind(project, dev_render):
    """docs/operations.md, "Chart CRDs": Helm leaves installed CRDs as they are on an upgrade; the
    CRDs the render writes, applied server-side, bring the cluster's to what the pinned charts carry."""
    files = sorted(dev_render.glob("*.yaml"))
    assert {f.stem for f in files} >= {"tigera-operator", "kube-prometheus-stack", "alloy"}, files
    crds = [d for f in files for d in yaml.load_all(f.read_text(), Loader=ChartLoader) if d]
    podlogs = next(c for c in crds if c["metadata"]["name"] == "podlogs.monitoring.grafana.com")
    field = sorted(
        podlogs["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    )[0]
    # The cluster holds an older CRD than the chart: one field of its schema is missing.
    path = f"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/{field}"
    older = kubectl(
        project,
        "patch",
        "crd",
        podlogs["metadata"]["name"],
        "--type=json",
        "-p",
        json.dumps([{"op": "remove", "path": path}]),
    )
    assert older.returncode == 0, output(older)
    assert field not in live_spec_fields(project, podlogs["metadata"]["name"])

    applied = kubectl(project, "apply", "--server-side", "--force-conflicts", "-f", str(dev_render))
    assert applied.returncode == 0, output(applied)
    assert field in live_spec_fields(project, podlogs["metadata"]["name"])
    with project.api() as api:
        live = {
            c["metadata"]["name"]
            for c in api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")["items"]
        }
    assert {c["metadata"]["name"] for c in crds} <= live


def live_spec_fields(project: Project, crd: str) -> set[str]:
    with project.api() as api:
        live = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}")
    return set(live["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])


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


# docs/operations.md says what destroy leaves behind; this reads it from there.
DOCUMENTED_LEFTOVERS = re.compile(
    r"on dev's local control plane: (?P<count>\d+) of them, from the releases (?P<releases>[^)]+)\)"
)


def test_destroy_removes_the_platform_and_leaves_only_what_the_docs_name(project, bare_cluster, dev_render):
    destroyed = project.meridian("destroy", "dev")
    assert destroyed.returncode == 0, output(destroyed)
    wait_for(lambda: not namespace_exists(project, "orders"), "namespace orders deleted")
    for pin in CHARTS.values():
        wait_for(
            lambda ns=pin.namespace: not namespace_exists(project, ns), f"namespace {pin.namespace} deleted"
        )
    assert installed_releases(project) == {}

    with project.api() as api:
        after = cluster_scoped_objects(api)
    left = {
        kind: sorted(names - bare_cluster.get(kind, set()))
        for kind, names in after.items()
        if names - bare_cluster.get(kind, set())
    }
    crds_left = set(left.pop("CustomResourceDefinition", []))
    # The API server registers an APIService for each version of a CRD's group while the CRD exists.
    served = {
        f"{version['name']}.{crd['spec']['group']}"
        for f in dev_render.glob("*.yaml")
        for crd in yaml.load_all(f.read_text(), Loader=ChartLoader)
        if crd and crd["metadata"]["name"] in crds_left
        for version in crd["spec"]["versions"]
    }
    left["APIService"] = sorted(set(left.get("APIService", [])) - served)
    left = {kind: names for kind, names in left.items() if names}
    assert not left, f"destroy left cluster-scoped objects the docs do not name: {left}"

    docs = " ".join((REPO_ROOT / "docs" / "operations.md").read_text().split())
    named = DOCUMENTED_LEFTOVERS.search(docs)
    assert named, "docs/operations.md no longer says what destroy leaves on dev"
    releases = set(re.split(r", | and ", named["releases"]))
    rendered = {
        f.stem: {d["metadata"]["name"] for d in yaml.load_all(f.read_text(), Loader=ChartLoader) if d}
        for f in dev_render.glob("*.yaml")
    }
    assert set(rendered) == releases, (
        f"the docs name {sorted(releases)}; the charts carry CRDs in {sorted(rendered)}"
    )
    assert crds_left == set().union(*rendered.values())
    assert len(crds_left) == int(named["count"]), f"{len(crds_left)} CRDs left, the docs say {named['count']}"
