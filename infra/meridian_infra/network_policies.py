"""NetworkPolicies: deny everything in a namespace, then allow exactly the traffic the spec implies.

Calico enforces these. Each allow is its own small object named for what it permits, so that
`kubectl get networkpolicy` reads as the list of permitted flows.
"""

from __future__ import annotations

from typing import Any, Literal

from meridian_infra.databases import DATABASE_PORT
from meridian_infra.objects import TIER_LABEL, Manifest, manifest

APP_NAME_LABEL = "app.kubernetes.io/name"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace
MONITORING_NAMESPACE = "monitoring"
VAULT_NAMESPACE = "vault"
ADMISSION_NAMESPACE = "meridian-admission"
VAULT_PORT = 8200
API_SERVER_PORTS = (443, 6443)


def _policy(
    namespace: str, name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None
) -> Manifest:
    return manifest(
        "networking.k8s.io/v1", "NetworkPolicy", name, namespace, spec=spec, annotations=annotations
    )


def _one_way(
    direction: Literal["Egress", "Ingress"],
    namespace: str,
    name: str,
    peers: list[dict[str, Any]],
    ports: list[dict[str, Any]] | None = None,
    *,
    pods: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """A policy with one rule: the selected pods (all, without `pods`) may reach (Egress), or be
    reached from (Ingress), `peers` on `ports` (on any port, without them)."""
    rule: dict[str, Any] = {"to" if direction == "Egress" else "from": peers}
    if ports is not None:
        rule["ports"] = ports
    spec = {
        "podSelector": {"matchLabels": pods} if pods else {},
        "policyTypes": [direction],
        direction.lower(): [rule],
    }
    return _policy(namespace, name, spec, annotations)


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}


def _pods_in(namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return {**_namespace(namespace), "podSelector": {"matchLabels": labels}}


def _cidrs(cidrs: list[str]) -> list[dict[str, Any]]:
    return [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]


# Every app namespace (namespaces.py labels them with their tier).
APP_NAMESPACES = {"namespaceSelector": {"matchLabels": {TIER_LABEL: "app"}}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def default_deny(namespace: str) -> Manifest:
    return _policy(namespace, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def allow_dns(namespace: str) -> Manifest:
    dns = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    return _one_way("Egress", namespace, "allow-dns", [_pods_in("kube-system", {"k8s-app": "kube-dns"})], dns)


def allow_monitoring_scrape(namespace: str, metrics_port: int) -> Manifest:
    monitoring = [_namespace(MONITORING_NAMESPACE)]
    return _one_way("Ingress", namespace, "allow-monitoring-scrape", monitoring, _tcp(metrics_port))


def allow_calls_out(namespace: str, app: str, target: str, port: int) -> Manifest:
    """Egress half of an app-to-app edge: `app` may open connections to `target`'s gRPC port."""
    to = [_pods_in(target, {APP_NAME_LABEL: target})]
    return _one_way(
        "Egress", namespace, f"allow-egress-to-{target}", to, _tcp(port), pods={APP_NAME_LABEL: app}
    )


def allow_calls_in(namespace: str, app: str, caller: str, port: int) -> Manifest:
    """Ingress half of an app-to-app edge: only `caller`'s pods reach `app`'s gRPC port."""
    sources = [_pods_in(caller, {APP_NAME_LABEL: caller})]
    return _one_way(
        "Ingress", namespace, f"allow-ingress-from-{caller}", sources, _tcp(port), pods={APP_NAME_LABEL: app}
    )


def allow_database(namespace: str, cidrs: list[str]) -> Manifest:
    return _one_way("Egress", namespace, "allow-database", _cidrs(cidrs), _tcp(DATABASE_PORT))


def allow_vault(namespace: str) -> Manifest:
    """Vault Agent sidecars fetch the app's database credentials from Vault."""
    return _one_way("Egress", namespace, "allow-vault", [_namespace(VAULT_NAMESPACE)], _tcp(VAULT_PORT))


def allow_same_namespace(namespace: str) -> Manifest:
    """Platform components talk among themselves (Argo CD's server, repo server and redis, …)."""
    return _policy(
        namespace,
        "allow-same-namespace",
        {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
    )


def allow_api_server(namespace: str, api_server_cidrs: list[str]) -> Manifest:
    """Controllers talk to the API server, whose address is outside any pod selector: only to its
    endpoints (policies see the endpoint after the Service address is translated), not to any host."""
    return _one_way(
        "Egress", namespace, "allow-api-server", _cidrs(api_server_cidrs), _tcp(*API_SERVER_PORTS)
    )


def allow_git(namespace: str) -> Manifest:
    """Argo CD's repo server, and only it, fetches this repository over HTTPS or SSH: the git host's
    address is not one the spec knows, so the pods are what narrows this (the ApplicationSet
    controller's git generator asks the repo server, not git)."""
    return _one_way(
        "Egress",
        namespace,
        "allow-git",
        _cidrs([ANYWHERE]),
        _tcp(443, 22),
        pods={APP_NAME_LABEL: "argocd-repo-server"},
        annotations={
            "exemption.meridian.dev/MER-NET-004": "expires=2027-06-30; reason=the git host's addresses are "
            "not in the spec (a hosted forge publishes changing ranges); only the repo server's pods get this"
        },
    )


def allow_scrape_everywhere(namespace: str) -> Manifest:
    """Prometheus scrapes every namespace; Alloy ships logs to Loki in the same namespace."""
    return _one_way("Egress", namespace, "allow-scrape-all-namespaces", [{"namespaceSelector": {}}])


def allow_vault_clients(namespace: str, database_cidrs: list[str]) -> list[Manifest]:
    """Vault serves app namespaces and reaches PostgreSQL to issue database credentials."""
    clients = _one_way("Ingress", namespace, "allow-app-clients", [APP_NAMESPACES], _tcp(VAULT_PORT))
    return [clients, allow_database(namespace, database_cidrs)] if database_cidrs else [clients]


# Admission webhooks the charts register, by namespace: (policy name, pod labels, port). The API
# server calls them; where they fail closed (admission.py: staging, prod) a blocked webhook refuses
# every app pod or rule, and where they fail open (dev) it silently admits them without what it adds.
WEBHOOKS: dict[str, list[tuple[str, dict[str, str], int]]] = {
    VAULT_NAMESPACE: [("allow-webhook-vault-agent-injector", {APP_NAME_LABEL: "vault-agent-injector"}, 8080)],
    MONITORING_NAMESPACE: [
        ("allow-webhook-prometheus-operator", {"app": "kube-prometheus-stack-operator"}, 10250)
    ],
    ADMISSION_NAMESPACE: [("allow-webhook-opa", {APP_NAME_LABEL: "opa"}, 8443)],
}
# Everywhere: the API server's address is not one the spec knows (a managed control plane's, or
# the nodes'), so the webhook's pods and port are what narrows these.
ANYWHERE = "0.0.0.0/0"
# What Prometheus scrapes outside any pod network: the kubelet (and cAdvisor through it),
# node-exporter on the host network, kube-proxy, the controller manager, the scheduler and etcd's
# metrics port, as kube-prometheus-stack's ServiceMonitors name them.
NODE_SCRAPE_PORTS = (10250, 9100, 10249, 10257, 10259, 2381)
OTLP_PORTS = (4317, 4318)
OTLP_COLLECTOR = {APP_NAME_LABEL: "alloy"}


def allow_webhooks(namespace: str) -> list[Manifest]:
    """Ingress to each admission webhook of the namespace, on its port only."""
    return [
        _one_way("Ingress", namespace, name, _cidrs([ANYWHERE]), _tcp(port), pods=labels)
        for name, labels, port in WEBHOOKS.get(namespace, [])
    ]


def allow_node_scrape(namespace: str) -> Manifest:
    """Prometheus scrapes the nodes themselves: addresses no pod or namespace selector matches."""
    return _one_way("Egress", namespace, "allow-scrape-nodes", _cidrs([ANYWHERE]), _tcp(*NODE_SCRAPE_PORTS))


def allow_otlp_from_apps(namespace: str) -> Manifest:
    """The apps' OpenTelemetry exporters reach the collector (Alloy) in the monitoring namespace."""
    return _one_way(
        "Ingress", namespace, "allow-otlp-from-apps", [APP_NAMESPACES], _tcp(*OTLP_PORTS), pods=OTLP_COLLECTOR
    )


def allow_otlp(namespace: str) -> Manifest:
    """Egress half: an app's pods send OTLP to the collector."""
    return _one_way(
        "Egress", namespace, "allow-otlp", [_pods_in(MONITORING_NAMESPACE, OTLP_COLLECTOR)], _tcp(*OTLP_PORTS)
    )
