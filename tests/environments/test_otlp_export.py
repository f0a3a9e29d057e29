"""Every app sends its spans to the platform's OTLP collector wherever the environment runs one, and
the network policies let it: read from what `meridian render ENV --apps` writes (the apps) and what
the platform program declares for the same environment under Pulumi's mocks (the collector, the
namespaces and their policies)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from meridian_core.layout import Repo
from meridian_infra.network_policies import NAMESPACE_NAME_LABEL
from meridian_infra.observability.stack import OTLP_ENDPOINT
from meridian_infra.offline import record_platform
from meridian_infra.spec import EnvironmentSpec, load_environment
from support.selectors import selects

from meridian.render.apps import render_apps

ENVS = ["dev", "staging", "prod"]
APPS = ["orders", "inventory"]
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


@dataclass
class Environment:
    spec: EnvironmentSpec
    apps: dict[str, list[dict[str, Any]]]  # build/ENV/apps/APP.yaml, by app
    platform: list[dict[str, Any]]  # the program's Kubernetes objects
    releases: dict[str, dict[str, Any]]  # its Helm releases, by name


@dataclass(frozen=True)
class Collector:
    service: str
    namespace: str
    port: int
    pod_labels: dict[str, str]


@pytest.fixture(scope="module")
def environments(repo_root, tmp_path_factory) -> dict[str, Environment]:
    repo = Repo(repo_root)
    result = {}
    for env in ENVS:
        spec = load_environment(repo_root / "environments", env)
        written = render_apps(repo, env, tmp_path_factory.mktemp(f"apps-{env}"))
        apps = {path.stem: [d for d in yaml.safe_load_all(path.read_text()) if d] for path in written}
        _, recording = record_platform(spec)
        result[env] = Environment(
            spec=spec,
            apps=apps,
            platform=[d.inputs for d in recording.kubernetes_objects()],
            releases={d.inputs["name"]: d.inputs for d in recording.helm_releases()},
        )
    return result


def collector(environment: Environment) -> Collector | None:
    """The OTLP/gRPC receiver the platform runs in this environment, if it runs one: Alloy's release
    with an `otlp-grpc` port on its Service."""
    release = environment.releases.get("alloy")
    if release is None:
        return None
    ports = [p for p in release["values"]["alloy"].get("extraPorts", []) if p["name"] == "otlp-grpc"]
    if not ports:
        return None
    # The chart names its Service after the release and labels its pods with the chart and release
    # names; tests/infra/test_chart_objects.py checks both against the chart as rendered.
    name = release["name"]
    return Collector(
        service=name,
        namespace=release["namespace"],
        port=int(ports[0]["port"]),
        pod_labels={"app.kubernetes.io/name": "alloy", "app.kubernetes.io/instance": name},
    )


def _one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} rendered"
    return found[0]


def container_environment(environment: Environment, app: str) -> dict[str, str]:
    """The app container's environment as the kubelet builds it: envFrom ConfigMaps in order (each
    must be in the app's render or be one the platform puts in its namespace), then env, which wins."""
    objects = environment.apps[app]
    container = next(
        c
        for c in _one(objects, "Deployment", app)["spec"]["template"]["spec"]["containers"]
        if c["name"] == app
    )
    in_namespace = objects + [o for o in environment.platform if o["metadata"].get("namespace") == app]
    variables: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref:
            variables.update(_one(in_namespace, "ConfigMap", ref["name"]).get("data") or {})
    for entry in container.get("env") or []:
        if "value" in entry:
            variables[entry["name"]] = entry["value"]
    return variables


@dataclass(frozen=True)
class Pod:
    namespace: str
    namespace_labels: dict[str, str]
    labels: dict[str, str]


def _peer_matches(peer: dict[str, Any], policy_namespace: str, pod: Pod) -> bool:
    if "ipBlock" in peer:
        return False  # pod addresses are not known here; the policies name pods, not addresses
    if "namespaceSelector" in peer:
        in_namespace = selects(peer["namespaceSelector"], pod.namespace_labels)
    else:
        in_namespace = pod.namespace == policy_namespace
    return in_namespace and ("podSelector" not in peer or selects(peer["podSelector"], pod.labels))


def _allows(policies: list[dict[str, Any]], direction: str, subject: Pod, peer: Pod, port: int) -> bool:
    """Whether the NetworkPolicies of subject's namespace let TCP `port` through in `direction`
    (Ingress: from peer to subject; Egress: from subject to peer), as the API defines it: a pod no
    policy of that direction selects is open; otherwise one rule of one selecting policy must match."""
    selecting = [
        p["spec"]
        for p in policies
        if p["metadata"]["namespace"] == subject.namespace
        and direction in p["spec"].get("policyTypes", [])
        and selects(p["spec"]["podSelector"], subject.labels)
    ]
    if not selecting:
        return True
    peers_key = "from" if direction == "Ingress" else "to"
    for spec in selecting:
        for rule in spec.get(direction.lower()) or []:
            ports = rule.get("ports")
            port_ok = not ports or any(
                p.get("protocol", "TCP") == "TCP" and p.get("port") in (None, port) for p in ports
            )
            peers = rule.get(peers_key)
            if port_ok and (not peers or any(_peer_matches(x, subject.namespace, peer) for x in peers)):
                return True
    return False


def _namespace_labels(environment: Environment, name: str) -> dict[str, str]:
    namespace = _one(environment.platform, "Namespace", name)
    # The API server adds this label to every namespace; policies select namespaces by it.
    return {**(namespace["metadata"].get("labels") or {}), NAMESPACE_NAME_LABEL: name}


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("app", APPS)
def test_every_app_exports_its_spans_to_the_collector_of_its_environment(environments, env, app):
    environment = environments[env]
    assert app in environment.spec.apps
    variables = container_environment(environment, app)
    target = collector(environment)
    if target is None:
        # No collector: an endpoint would only fill the app's log with failed exports.
        assert not {v for v in ENDPOINT_VARIABLES if v in variables}, f"{env} runs no OTLP collector"
        return
    assert "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" not in variables  # it would win over the one checked here
    endpoint = variables.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert endpoint, f"{app} in {env} sets no OTEL_EXPORTER_OTLP_ENDPOINT although {env} runs a collector"
    url = urllib.parse.urlsplit(endpoint)
    assert url.scheme == "http"  # the receiver serves plain gRPC inside the cluster
    assert url.hostname in {
        f"{target.service}.{target.namespace}.svc",
        f"{target.service}.{target.namespace}.svc.cluster.local",
    }, f"{endpoint} does not name the {target.service} Service in {target.namespace}"
    assert url.port == target.port
    assert endpoint == OTLP_ENDPOINT


@pytest.mark.parametrize("env", ENVS)
def test_the_network_policies_let_every_app_reach_the_collector(environments, env):
    environment = environments[env]
    target = collector(environment)
    if target is None:
        # Nothing to reach; the test above checks that no app tries.
        assert not any(
            v in container_environment(environment, a) for a in environment.apps for v in ENDPOINT_VARIABLES
        )
        return
    policies = [o for o in environment.platform if o["kind"] == "NetworkPolicy"]
    alloy = Pod(target.namespace, _namespace_labels(environment, target.namespace), target.pod_labels)
    for app in environment.spec.apps:
        template = _one(environment.apps[app], "Deployment", app)["spec"]["template"]
        pod = Pod(app, _namespace_labels(environment, app), template["metadata"]["labels"])
        assert _allows(policies, "Egress", pod, alloy, target.port), f"{app}'s policies block egress to it"
        assert _allows(policies, "Ingress", alloy, pod, target.port), f"{target.namespace} refuses {app}"
        # The policies are default-deny: the same flow on another port, or to another pod of the
        # collector's namespace, is refused (so the two checks above are not vacuous).
        assert not _allows(policies, "Egress", pod, alloy, 4319)
        grafana = Pod(target.namespace, alloy.namespace_labels, {"app.kubernetes.io/name": "grafana"})
        assert not _allows(policies, "Egress", pod, grafana, target.port)
