"""On the real local control plane: the API server's own connections (webhooks, kubelet calls) go to
the egress proxy, which refuses them or forwards them to loopback, and no control-plane process
ever holds a socket to an address off loopback meanwhile."""

from __future__ import annotations

import base64
import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.egress_watch import ConnectionWatch, cluster_processes, combined, process_tree, watch_connections
from support.local_cluster import ClusterUnderTest, new_cluster, output, wait_for
from support.loopback_webhook import running_webhook

from meridian.cluster.api import ApiError, KubeApi
from meridian.cluster.components import APISERVER, EGRESS_PROXY
from meridian.cluster.egress import EgressFiles, ServiceForward, add_forward, log_entries, remove_forward

pytestmark = pytest.mark.slow

REFUSED_NS = "egress-refused"
FORWARD_NS = "egress-forwarded"
# How long the API server's webhook informer may take to see a new configuration.
WEBHOOK_ACTIVE_S = 60.0


def _namespace(api: KubeApi, name: str) -> None:
    api.apply(
        f"/api/v1/namespaces/{name}", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )


def _service(api: KubeApi, namespace: str, selector: dict[str, str] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}
    if selector:
        spec["selector"] = selector
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "hook", "namespace": namespace},
        "spec": spec,
    }
    return api.apply(f"/api/v1/namespaces/{namespace}/services/hook", body).body


def _webhook_config(name: str, namespace: str, policy: str, ca_bundle: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.egress.test",
                "clientConfig": {
                    "service": {"namespace": namespace, "name": "hook", "port": 443, "path": "/validate"},
                    "caBundle": ca_bundle,
                },
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["configmaps"],
                    }
                ],
                # Only this test's namespace: the session's cluster is shared with other tests.
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "failurePolicy": policy,
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5,
            }
        ],
    }


def _configmap(namespace: str, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "data": {"k": "v"},
    }


def _tunnels(cluster: ClusterUnderTest, since: str = "") -> list[dict[str, Any]]:
    entries = log_entries(cluster.dirs.log(EGRESS_PROXY))
    return [e for e in entries if e.get("event") == "tunnel" and e.get("time", "") > since]


def _now_stamp() -> str:
    # The proxy stamps its lines in UTC ISO form, which sorts as text.
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _assert_watch_worked(watch: ConnectionWatch) -> None:
    """The watch really looked (before, during and after the block): it saw the API server's own
    loopback connections, to etcd among them."""
    assert watch.samples >= 2
    assert any(c.program == APISERVER and c.state == "ESTABLISHED" for c in watch.connections), (
        watch.connections
    )
    watch.assert_loopback_only()


@pytest.fixture(scope="module")
def kwok_backed_service(local_cluster: ClusterUnderTest) -> Iterator[dict[str, Any]]:
    """A Service whose endpoints are kwok's fake pods: ClusterIP and pod IPs both off loopback."""
    with local_cluster.api() as api:
        _namespace(api, REFUSED_NS)
        pod_spec = {
            "containers": [
                {"name": "hook", "image": "registry.example/hook:1.0", "ports": [{"containerPort": 8443}]}
            ]
        }
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "hook", "namespace": REFUSED_NS},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "hook"}},
                "template": {"metadata": {"labels": {"app": "hook"}}, "spec": pod_spec},
            },
        }
        api.apply(f"/apis/apps/v1/namespaces/{REFUSED_NS}/deployments/hook", deployment)
        service = _service(api, REFUSED_NS, {"app": "hook"})
        slices = f"/apis/discovery.k8s.io/v1/namespaces/{REFUSED_NS}/endpointslices"

        def endpoint_ips() -> list[str]:
            found = api.get(slices, params={"labelSelector": "kubernetes.io/service-name=hook"})["items"]
            return [a for s in found for e in s.get("endpoints") or [] for a in e.get("addresses", [])]

        wait_for(lambda: bool(endpoint_ips()), "the hook Service to get an endpoint on a kwok pod")
        pods = api.get(f"/api/v1/namespaces/{REFUSED_NS}/pods", params={"labelSelector": "app=hook"})["items"]
        yield {"clusterIP": service["spec"]["clusterIP"], "endpoints": endpoint_ips(), "pod": pods[0]}
        api.delete(f"/api/v1/namespaces/{REFUSED_NS}")


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_a_webhook_on_a_service_goes_to_the_proxy_which_refuses_it(
    local_cluster: ClusterUnderTest, kwok_backed_service: dict[str, Any], policy: str
):
    cluster_ip = kwok_backed_service["clusterIP"]
    assert not cluster_ip.startswith("127.")
    assert all(not ip.startswith("127.") for ip in kwok_backed_service["endpoints"])
    name = f"egress-refused-{policy.lower()}"
    # A CA the API server would accept: what fails must be the connection, not the certificate.
    ca = base64.b64encode((local_cluster.dirs.pki / "ca.crt").read_bytes()).decode("ascii")
    since = _now_stamp()
    with watch_connections(cluster_processes(local_cluster)) as watch, local_cluster.api() as api:
        api.apply(
            f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}",
            _webhook_config(name, REFUSED_NS, policy, ca),
        )
        try:
            attempts: list[str] = []
            refusal: ApiError | None = None

            def webhook_was_called() -> bool:
                nonlocal refusal
                cm = f"probe-{policy.lower()}-{len(attempts)}"
                attempts.append(cm)
                try:
                    api.create(f"/api/v1/namespaces/{REFUSED_NS}/configmaps", _configmap(REFUSED_NS, cm))
                except ApiError as exc:
                    refusal = exc
                    return True
                return any(t["request"] == f"{cluster_ip}:443" for t in _tunnels(local_cluster, since))

            wait_for(webhook_was_called, f"the {policy} webhook to be called", WEBHOOK_ACTIVE_S)
            last = attempts[-1]
            stored = api.exists(f"/api/v1/namespaces/{REFUSED_NS}/configmaps/{last}")
        finally:
            api.delete(f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}")
    tunnels = [t for t in _tunnels(local_cluster, since) if t["request"] == f"{cluster_ip}:443"]
    assert tunnels, f"no tunnel request for {cluster_ip}:443 in the proxy's log"
    assert {t["selection"] for t in tunnels} == {"cluster"}
    assert {t["verdict"] for t in tunnels} == {"refused"}
    if policy == "Fail":
        assert refusal is not None and not stored
        assert f'failed calling webhook "{name}.egress.test"' in refusal.message
        assert "local egress refused" in refusal.message
        assert cluster_ip in refusal.message
    else:
        assert refusal is None and stored  # failurePolicy Ignore: admitted despite the failed call
    _assert_watch_worked(watch)


# An address from TEST-NET-2 (RFC 5737) for a node that kwok does not manage: it is never dialled.
NODE_ADDRESS = "198.51.100.7"


@pytest.fixture
def node_with_an_address(local_cluster: ClusterUnderTest) -> Iterator[str]:
    """kwok's nodes report no address; this one reports an InternalIP and a kubelet port."""
    name = "egress-test-node"
    with local_cluster.api() as api:
        api.apply(f"/api/v1/nodes/{name}", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        status = {
            "addresses": [{"type": "InternalIP", "address": NODE_ADDRESS}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        }
        api.apply(
            f"/api/v1/nodes/{name}/status",
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": status},
        )
        yield name
        api.delete(f"/api/v1/nodes/{name}")


def test_kubelet_and_proxy_calls_are_refused_by_the_proxy(
    local_cluster: ClusterUnderTest, kwok_backed_service: dict[str, Any], node_with_an_address: str
):
    pod = kwok_backed_service["pod"]
    pod_ip = pod["status"]["podIP"]
    # (the call, where the API server then connects): the node's kubelet, the pod, and the
    # Service's endpoint (the service proxy picks a pod, not the ClusterIP).
    calls = [
        (f"/api/v1/nodes/{node_with_an_address}/proxy/healthz", f"{NODE_ADDRESS}:10250"),
        (
            f"/api/v1/namespaces/{REFUSED_NS}/pods/https:{pod['metadata']['name']}:8443/proxy/",
            f"{pod_ip}:8443",
        ),
        (f"/api/v1/namespaces/{REFUSED_NS}/services/https:hook:443/proxy/", f"{pod_ip}:8443"),
    ]
    for path, target in calls:
        since = _now_stamp()
        with (
            watch_connections(cluster_processes(local_cluster)) as watch,
            local_cluster.api() as api,
            pytest.raises(ApiError) as refused,
        ):
            api.get(path)
        requested = [(t["request"], t["verdict"]) for t in _tunnels(local_cluster, since)]
        assert requested == [(target, "refused")], (path, requested)
        assert "local egress refused" in refused.value.message, refused.value.message
        _assert_watch_worked(watch)


def test_a_forwarded_service_reaches_a_webhook_on_loopback_and_its_verdict_applies(
    local_cluster: ClusterUnderTest, tmp_path: Path
):
    files = EgressFiles(local_cluster.dirs)

    def judge(request: dict[str, Any]) -> str | None:
        labels = request["object"]["metadata"].get("labels") or {}
        return "denied by the loopback webhook: verdict=deny" if labels.get("verdict") == "deny" else None

    name = "egress-forwarded"
    since = _now_stamp()
    with (
        running_webhook(local_cluster.dirs.pki, tmp_path / "hook", "hook", FORWARD_NS, judge) as hook,
        watch_connections(cluster_processes(local_cluster)) as watch,
        local_cluster.api() as api,
    ):
        _namespace(api, FORWARD_NS)
        _service(api, FORWARD_NS, None)  # no pods: only the forward serves it
        add_forward(files, ServiceForward(namespace=FORWARD_NS, service="hook", port=443, target=hook.target))
        api.apply(
            f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}",
            _webhook_config(name, FORWARD_NS, "Fail", hook.ca_bundle),
        )
        try:
            denied: list[ApiError] = []

            def denial_seen() -> bool:
                try:
                    cm = f"denied-{len(denied)}-{time.monotonic_ns()}"
                    api.create(
                        f"/api/v1/namespaces/{FORWARD_NS}/configmaps",
                        _configmap(FORWARD_NS, cm, {"verdict": "deny"}),
                    )
                except ApiError as exc:
                    denied.append(exc)
                    return "denied by the loopback webhook" in exc.message
                return False

            wait_for(denial_seen, "the forwarded webhook to deny a ConfigMap", WEBHOOK_ACTIVE_S)
            api.create(f"/api/v1/namespaces/{FORWARD_NS}/configmaps", _configmap(FORWARD_NS, "admitted"))
            admitted = api.exists(f"/api/v1/namespaces/{FORWARD_NS}/configmaps/admitted")
        finally:
            api.delete(f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}")
            remove_forward(files, FORWARD_NS, "hook", 443)
            api.delete(f"/api/v1/namespaces/{FORWARD_NS}")
    assert denied[-1].status == 403
    assert admitted
    assert "admitted" in {r["name"] for r in hook.reviews}  # the webhook saw and allowed it
    forwarded = [t for t in _tunnels(local_cluster, since) if t["verdict"] == "forwarded"]
    assert forwarded, "the proxy's log has no forwarded tunnel"
    assert {t["service"] for t in forwarded} == {f"{FORWARD_NS}/hook:443"}
    assert {t["to"] for t in forwarded} == {hook.target}
    _assert_watch_worked(watch)


def test_status_shows_the_egress_proxy(local_cluster: ClusterUnderTest):
    result = local_cluster.run("cluster", "status", "--local")
    assert result.returncode == 0, output(result)
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.split()}
    pid = local_cluster.pids()[EGRESS_PROXY]
    assert str(pid) in rows[EGRESS_PROXY] and " ok " in rows[EGRESS_PROXY]
    assert str(local_cluster.dirs.log(EGRESS_PROXY)) in rows[EGRESS_PROXY]
    assert "egress: the API server's own connections go to the egress proxy" in result.stdout
    configured = EgressFiles(local_cluster.dirs).selector_config
    assert configured.is_file()
    assert (
        f"--egress-selector-config-file={configured}"
        in Path(f"/proc/{local_cluster.pids()[APISERVER]}/cmdline").read_bytes().decode()
    )


def test_a_cluster_up_and_down_from_scratch_connects_to_loopback_only(
    tmp_path: Path, control_plane_built: None
):
    cluster = new_cluster(tmp_path / "cluster")
    # This test's process and its children (the `meridian` commands) and every cluster process.
    everyone = combined(process_tree(os.getpid()), cluster_processes(cluster))
    try:
        with watch_connections(everyone) as watch:
            up = cluster.run("cluster", "up", "--local")
            assert up.returncode == 0, output(up)
            started = cluster.processes()
            down = cluster.run("cluster", "down", "--local")
            assert down.returncode == 0, output(down)
    finally:
        cluster.run("cluster", "down", "--local")
    assert set(started.values()) >= {EGRESS_PROXY, APISERVER}
    assert cluster.processes() == {}  # down stopped the proxy with the rest
    assert not EgressFiles(cluster.dirs).socket("cluster").exists()
    assert {"kube-controller-manager", "kube-scheduler", "kwok"} <= watch.seen_programs()
    _assert_watch_worked(watch)
