"""NetworkPolicies: deny everything in a namespace, then allow exactly the traffic the spec implies.

Calico enforces these. Each allow is its own small object named for what it permits, so that
`kubectl get networkpolicy` reads as the list of permitted flows.
"""

from __future__ import annotations

from typing import Any

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


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def default_deny(namespace: str) -> Manifest:
    return _policy(namespace, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def allow_dns(namespace: str) -> Manifest:
    return _policy(
        namespace,
        "allow-dns",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {**_namespace("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    )


def allow_monitoring_scrape(namespace: str, metrics_port: int) -> Manifest:
    return _policy(
        namespace,
        "allow-monitoring-scrape",
        {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [_namespace(MONITORING_NAMESPACE)], "ports": _tcp(metrics_port)}],
        },
    )


def allow_calls_out(namespace: str, app: str, target: str, port: int) -> Manifest:
    """Egress half of an app-to-app edge: `app` may open connections to `target`'s gRPC port."""
    return _policy(
        namespace,
        f"allow-egress-to-{target}",
        {
            "podSelector": {"matchLabels": {APP_NAME_LABEL: app}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{**_namespace(target), "podSelector": {"matchLabels": {APP_NAME_LABEL: target}}}],
                    "ports": _tcp(port),
                }
            ],
        },
    )


def allow_calls_in(namespace: str, app: str, caller: str, port: int) -> Manifest:
    """Ingress half of an app-to-app edge: only `caller`'s pods reach `app`'s gRPC port."""
    return _policy(
        namespace,
        f"allow-ingress-from-{caller}",
        {
            "podSelector": {"matchLabels": {APP_NAME_LABEL: app}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {**_namespace(caller), "podSelector": {"matchLabels": {APP_NAME_LABEL: caller}}}
                    ],
                    "ports": _tcp(port),
                }
            ],
        },
    )


def allow_database(namespace: str, cidrs: list[str]) -> Manifest:
    return _policy(
        namespace,
        "allow-database",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in cidrs], "ports": _tcp(DATABASE_PORT)}],
        },
    )


def allow_vault(namespace: str) -> Manifest:
    """Vault Agent sidecars fetch the app's database credentials from Vault."""
    return _policy(
        namespace,
        "allow-vault",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [_namespace(VAULT_NAMESPACE)], "ports": _tcp(VAULT_PORT)}],
        },
    )


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
    return _policy(
        namespace,
        "allow-api-server",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": cidr}} for cidr in api_server_cidrs],
                    "ports": _tcp(*API_SERVER_PORTS),
                }
            ],
        },
    )


def allow_git(namespace: str) -> Manifest:
    """Argo CD's repo server, and only it, fetches this repository over HTTPS or SSH: the git host's
    address is not one the spec knows, so the pods are what narrows this (the ApplicationSet
    controller's git generator asks the repo server, not git)."""
    return _policy(
        namespace,
        "allow-git",
        {
            "podSelector": {"matchLabels": {APP_NAME_LABEL: "argocd-repo-server"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": _tcp(443, 22)}],
        },
        annotations={
            "exemption.meridian.dev/MER-NET-004": "expires=2027-06-30; reason=the git host's addresses are "
            "not in the spec (a hosted forge publishes changing ranges); only the repo server's pods get this"
        },
    )


def allow_scrape_everywhere(namespace: str) -> Manifest:
    """Prometheus scrapes every namespace; Alloy ships logs to Loki in the same namespace."""
    return _policy(
        namespace,
        "allow-scrape-all-namespaces",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {}}]}],
        },
    )


def allow_vault_clients(namespace: str, database_cidrs: list[str]) -> list[Manifest]:
    """Vault serves app namespaces and reaches PostgreSQL to issue database credentials."""
    clients = _policy(
        namespace,
        "allow-app-clients",
        {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {TIER_LABEL: "app"}}}],
                    "ports": _tcp(VAULT_PORT),
                }
            ],
        },
    )
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
        _policy(
            namespace,
            name,
            {
                "podSelector": {"matchLabels": labels},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"ipBlock": {"cidr": ANYWHERE}}], "ports": _tcp(port)}],
            },
        )
        for name, labels, port in WEBHOOKS.get(namespace, [])
    ]


def allow_node_scrape(namespace: str) -> Manifest:
    """Prometheus scrapes the nodes themselves: addresses no pod or namespace selector matches."""
    return _policy(
        namespace,
        "allow-scrape-nodes",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": ANYWHERE}}], "ports": _tcp(*NODE_SCRAPE_PORTS)}],
        },
    )


def allow_otlp_from_apps(namespace: str) -> Manifest:
    """The apps' OpenTelemetry exporters reach the collector (Alloy) in the monitoring namespace."""
    return _policy(
        namespace,
        "allow-otlp-from-apps",
        {
            "podSelector": {"matchLabels": OTLP_COLLECTOR},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {TIER_LABEL: "app"}}}],
                    "ports": _tcp(*OTLP_PORTS),
                }
            ],
        },
    )


def allow_otlp(namespace: str) -> Manifest:
    """Egress half: an app's pods send OTLP to the collector."""
    return _policy(
        namespace,
        "allow-otlp",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {**_namespace(MONITORING_NAMESPACE), "podSelector": {"matchLabels": OTLP_COLLECTOR}}
                    ],
                    "ports": _tcp(*OTLP_PORTS),
                }
            ],
        },
    )
