"""The local cluster behaves like a cluster: Deployments roll out onto kwok's fake nodes, and
Pod Security admission refuses what a restricted namespace forbids."""

from __future__ import annotations

from typing import Any

import pytest
from support.local_cluster import ClusterUnderTest, wait_for

from meridian.cluster.api import ApiError, KubeApi

pytestmark = pytest.mark.slow

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


def _namespace(api: KubeApi, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}
    api.apply(f"/api/v1/namespaces/{name}", body)


def _restricted_pod_spec() -> dict[str, Any]:
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "web",
                "image": "registry.example/web:1.0",
                "ports": [{"containerPort": 8080}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "readOnlyRootFilesystem": True,
                },
            }
        ],
    }


def test_a_restricted_deployment_becomes_available_on_fake_nodes(local_cluster: ClusterUnderTest):
    with local_cluster.api() as api:
        _namespace(api, "web-demo")
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "web-demo"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": _restricted_pod_spec()},
            },
        }
        reply = api.apply("/apis/apps/v1/namespaces/web-demo/deployments/web", deployment)
        assert reply.warnings == []  # nothing in it that Pod Security would even warn about
        path = "/apis/apps/v1/namespaces/web-demo/deployments/web"

        def available() -> bool:
            status = api.get(path).get("status", {})
            conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
            return conditions.get("Available") == "True" and status.get("availableReplicas") == 3

        wait_for(available, "Deployment web available with 3 replicas")
        pods = api.get("/api/v1/namespaces/web-demo/pods", params={"labelSelector": "app=web"})["items"]
    assert len(pods) == 3
    assert {p["spec"]["nodeName"] for p in pods} == {"kwok-node-0"}
    assert {p["status"]["phase"] for p in pods} == {"Running"}


def test_a_privileged_pod_is_refused_in_a_restricted_namespace(local_cluster: ClusterUnderTest):
    with local_cluster.api() as api:
        _namespace(api, "psa-demo")
        spec = _restricted_pod_spec()
        spec["containers"][0]["securityContext"] = {"privileged": True}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "root-shell", "namespace": "psa-demo"},
            "spec": spec,
        }
        with pytest.raises(ApiError) as refused:
            api.create("/api/v1/namespaces/psa-demo/pods", pod)
        assert not api.exists("/api/v1/namespaces/psa-demo/pods/root-shell")
    assert refused.value.status == 403
    assert 'violates PodSecurity "restricted:latest"' in refused.value.message
    assert "privileged" in refused.value.message
