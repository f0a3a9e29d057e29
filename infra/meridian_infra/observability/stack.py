"""Metrics, alerts, dashboards and logs: kube-prometheus-stack, Loki and Alloy, sized per environment.

Prometheus picks up every ServiceMonitor and PrometheusRule in the cluster (the apps ship their own
ServiceMonitor); Alertmanager routes by the `severity` label to the environment's receivers, whose
webhook URLs are stack secrets; Grafana gets Prometheus and Loki as data sources and loads every
ConfigMap labelled `grafana_dashboard`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from meridian_infra import admission, sizing
from meridian_infra.helm import Charts
from meridian_infra.objects import TEAM_LABEL, Manifest, declare, manifest, restricted_container
from meridian_infra.observability import dashboards, slo
from meridian_infra.passwords import generated_password
from meridian_infra.spec.models import EnvironmentSpec, LokiMode

NAMESPACE = "monitoring"
LOKI_PUSH_URL = f"http://loki-gateway.{NAMESPACE}.svc/loki/api/v1/push"
LOKI_QUERY_URL = f"http://loki-gateway.{NAMESPACE}.svc"
DASHBOARD_LABEL = "grafana_dashboard"


# The severities kube-prometheus-stack's own rules use, by the spec severity that carries them.
CHART_SEVERITIES = {"page": ("critical",), "ticket": ("warning",), "info": ("info",)}
# Alerts that fire all the time by design (a dead man's switch, the inhibitor of info alerts).
ALWAYS_FIRING = ("Watchdog", "InfoInhibitor")
SEVERITY_ORDER = ("info", "ticket", "page")  # least urgent first


def catch_all_receiver(spec: EnvironmentSpec) -> str:
    """Where an alert no route matches goes: the least urgent receiver, so nothing is dropped."""
    by_severity = {route.severity: route.receiver for route in spec.observability.alert_routes}
    return next((by_severity[s] for s in SEVERITY_ORDER if s in by_severity), "unrouted")


def alertmanager_config(
    spec: EnvironmentSpec, receiver_urls: Mapping[str, pulumi.Input[str]]
) -> dict[str, Any]:
    """Alerts route by severity, Meridian's (page, ticket, info) and the chart's own (critical,
    warning, info) alike; anything else goes to the least urgent receiver. Only the always-firing
    alerts are dropped, on purpose, by the `null` receiver."""
    receivers = sorted({route.receiver for route in spec.observability.alert_routes})
    routes: list[dict[str, Any]] = [
        {"receiver": "null", "matchers": [f'alertname=~"{"|".join(ALWAYS_FIRING)}"']}
    ]
    routes += [
        {
            "receiver": route.receiver,
            "matchers": [f'severity=~"{"|".join((route.severity, *CHART_SEVERITIES[route.severity]))}"'],
            "repeat_interval": route.repeat_interval,
        }
        for route in spec.observability.alert_routes
    ]
    fallback = [] if receivers else [{"name": "unrouted"}]
    return {
        "route": {
            "receiver": catch_all_receiver(spec),
            "group_by": ["alertname", "namespace", "service"],
            "group_wait": "30s",
            "group_interval": "5m",
            "routes": routes,
        },
        "receivers": [{"name": "null"}, *fallback]
        + [
            {"name": name, "webhook_configs": [{"url": receiver_urls[name], "send_resolved": True}]}
            if name in receiver_urls
            else {"name": name}
            for name in receivers
        ],
    }


class GrafanaNotShared(ValueError):
    def __init__(self, replicas: int) -> None:
        super().__init__(
            f"observability.grafanaReplicas is {replicas}: each Grafana replica keeps users, sessions "
            "and settings in its own SQLite database, so replicas disagree; run one replica "
            "(leave grafanaReplicas unset) until Grafana is given a shared database"
        )


def prometheus_stack_values(
    spec: EnvironmentSpec, grafana_password: pulumi.Input[str], receiver_urls: Mapping[str, pulumi.Input[str]]
) -> dict[str, Any]:
    obs = spec.observability
    if obs.grafana_replicas > 1:
        raise GrafanaNotShared(obs.grafana_replicas)
    storage = {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": obs.storage}}}}}
    sized = sizing.resources
    return {
        "prometheus": {
            "prometheusSpec": {
                "replicas": obs.prometheus_replicas,
                "retention": obs.retention,
                "storageSpec": storage,
                "resources": sized(sizing.prometheus_size(obs.storage)),
                # Select monitors and rules from every namespace, not only the chart's own release.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                # The apps' OTLP metrics arrive through Alloy, which writes them here.
                "enableRemoteWriteReceiver": True,
            },
        },
        "alertmanager": {
            "alertmanagerSpec": {
                "replicas": obs.alertmanager_replicas,
                "resources": sized(sizing.CONTROLLER),
            },
            "config": alertmanager_config(spec, receiver_urls),
        },
        "prometheusOperator": {
            "resources": sized(sizing.CONTROLLER),
            "prometheusConfigReloader": {"resources": sized(sizing.SIDECAR)},
            "admissionWebhooks": {
                # The chart's post-install job patches the same policy in with the CA bundle.
                "failurePolicy": admission.failure_policy(spec),
                "namespaceSelector": admission.all_namespaces_but(NAMESPACE),
                "patch": {"resources": sized(sizing.SIDECAR)},
            },
        },
        "kube-state-metrics": {"resources": sized(sizing.CONTROLLER)},
        "prometheus-node-exporter": {"resources": sized(sizing.SIDECAR)},
        "grafana": {
            "replicas": obs.grafana_replicas,
            "adminPassword": grafana_password,
            "resources": sized(sizing.SERVICE),
            # Grafana writes only to its data volume (an emptyDir) and /tmp.
            "containerSecurityContext": {"readOnlyRootFilesystem": True},
            "extraEmptyDirMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - its own emptyDir
            "sidecar": {
                "dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "searchNamespace": "ALL"},
                "resources": sized(sizing.SIDECAR),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            },
            "additionalDataSources": [{"name": "Loki", "type": "loki", "uid": "loki", "url": LOKI_QUERY_URL}],
        },
    }


def loki_values(spec: EnvironmentSpec) -> dict[str, Any]:
    loki = spec.observability.loki
    common: dict[str, Any] = {
        "auth_enabled": False,
        "commonConfig": {
            "replication_factor": 1 if loki.mode is LokiMode.SINGLE_BINARY else min(3, loki.replicas)
        },
        "limits_config": {"retention_period": loki.retention},
        "compactor": {
            "retention_enabled": True,
            "delete_request_store": "filesystem" if loki.mode is LokiMode.SINGLE_BINARY else "s3",
        },
        "schemaConfig": {
            "configs": [
                {
                    "from": "2024-01-01",
                    "store": "tsdb",
                    "object_store": "filesystem" if loki.mode is LokiMode.SINGLE_BINARY else "s3",
                    "schema": "v13",
                    "index": {"prefix": "index_", "period": "24h"},
                }
            ]
        },
    }
    store = sizing.resources(sizing.LOG_STORE)
    # Helm merges these into the chart's own contexts (uid 10001 for Loki, 101 for the gateway).
    common["podSecurityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
    # Alive while it answers on its HTTP port; ready only once /ready says so (the chart's probe).
    common["livenessProbe"] = {"tcpSocket": {"port": "http-metrics"}, "initialDelaySeconds": 30}
    values: dict[str, Any] = {
        "loki": common,
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "sidecar": {"resources": sizing.resources(sizing.SIDECAR)},
        "lokiCanary": {"resources": sizing.resources(sizing.SIDECAR)},
    }
    if loki.mode is LokiMode.SINGLE_BINARY:
        common["storage"] = {"type": "filesystem"}
        values |= {
            "deploymentMode": "SingleBinary",
            "singleBinary": {
                "replicas": loki.replicas,
                # Without persistence the chart mounts an emptyDir: no claim waits for a StorageClass.
                "persistence": {"enabled": loki.persistence, "size": loki.storage},
                "resources": store,
            },
            "read": {"replicas": 0},
            "write": {"replicas": 0},
            "backend": {"replicas": 0},
        }
    else:
        # Object storage is required for the scalable layout; bucket names follow the environment.
        # Endpoint and region are expanded from the environment at start (-config.expand-env), and
        # the S3 client reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY itself: all four come from
        # the Secret the program writes from the stack's encrypted config, none from git.
        common["storage"] = {
            "type": "s3",
            "bucketNames": {
                kind: f"meridian-{spec.name}-loki-{kind}" for kind in ("chunks", "ruler", "admin")
            },
            "s3": {"endpoint": "${LOKI_S3_ENDPOINT}", "region": "${LOKI_S3_REGION}"},
        }
        from_secret = {
            "extraArgs": ["-config.expand-env=true"],
            "extraEnvFrom": [{"secretRef": {"name": LOKI_STORAGE_SECRET}}],
        }
        values |= {
            "deploymentMode": "SimpleScalable",
            "read": {"replicas": loki.replicas, "resources": store, **from_secret},
            "write": {
                "replicas": loki.replicas,
                "persistence": {"size": loki.storage},
                "resources": store,
                **from_secret,
            },
            "backend": {
                "replicas": loki.replicas,
                "persistence": {"size": loki.storage},
                "resources": store,
                **from_secret,
            },
            "singleBinary": {"replicas": 0},
        }
    # The gateway fronts every push and query: more than one replica where Loki itself is
    # replicated (the chart then adds its PodDisruptionBudget).
    values["gateway"] = {
        "replicas": 2 if loki.replicas > 1 else 1,
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "livenessProbe": {"httpGet": {"path": "/", "port": "http-metrics"}, "initialDelaySeconds": 15},
        "resources": sizing.resources(sizing.CONTROLLER),
    }
    return values


LOKI_STORAGE_SECRET = "loki-object-storage"  # noqa: S105 - a Secret's name
# The stack secret meridian:lokiObjectStorage's keys, and the variables Loki reads them as.
LOKI_STORAGE_KEYS = {
    "endpoint": "LOKI_S3_ENDPOINT",
    "region": "LOKI_S3_REGION",
    "accessKeyId": "AWS_ACCESS_KEY_ID",
    "secretAccessKey": "AWS_SECRET_ACCESS_KEY",
}
LOKI_STORAGE_EXEMPTION = (
    "expires=2027-06-30; reason=written at deploy time from the stack's encrypted config "
    "(meridian:lokiObjectStorage); the render holds placeholders, never the credentials"
)


class LokiStorageNotConfigured(ValueError):
    def __init__(self, missing: list[str]) -> None:
        keys = ", ".join(missing)
        super().__init__(
            "observability.loki.mode simpleScalable stores in S3, but meridian:lokiObjectStorage "
            f"lacks {keys}: "
            "`pulumi config set --secret --path meridian:lokiObjectStorage.<key> VALUE` for each of "
            + ", ".join(LOKI_STORAGE_KEYS)
        )


def loki_storage_secret(settings: Mapping[str, pulumi.Input[str]]) -> Manifest:
    missing = [key for key in LOKI_STORAGE_KEYS if key not in settings]
    if missing:
        raise LokiStorageNotConfigured(missing)
    return manifest(
        "v1",
        "Secret",
        LOKI_STORAGE_SECRET,
        NAMESPACE,
        annotations={"exemption.meridian.dev/MER-SEC-001": LOKI_STORAGE_EXEMPTION},
        type="Opaque",
        string_data={variable: settings[key] for key, variable in LOKI_STORAGE_KEYS.items()},
    )


PROMETHEUS_WRITE_URL = f"http://kube-prometheus-stack-prometheus.{NAMESPACE}.svc:9090/api/v1/write"
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
# Where the apps' OpenTelemetry exporters send (OTEL_EXPORTER_OTLP_ENDPOINT): Alloy's Service. The app
# overlays get it from environments/components/otlp-export; tests/environments/test_otlp_export.py
# checks that the two agree.
OTLP_ENDPOINT = f"http://alloy.{NAMESPACE}.svc:{OTLP_GRPC_PORT}"


def alloy_config(clustered: bool) -> str:
    """Alloy's pipeline: pod logs through the Kubernetes API to Loki, and an OTLP receiver for the apps.

    With several replicas, `clustering` makes them share the pods to tail instead of each tailing
    every pod (which would store every line once per replica)."""
    clustering = "\n  clustering {\n    enabled = true\n  }" if clustered else ""
    return f"""// Tail every pod's logs through the Kubernetes API; ship them to Loki with their labels.
discovery.kubernetes "pods" {{
  role = "pod"
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }}
}}

loki.source.kubernetes "pods" {{
  targets    = discovery.relabel.pods.output
  forward_to = [loki.process.json.receiver]{clustering}
}}

// The apps log JSON: lift the gRPC method and code into labels that dashboards filter on.
loki.process "json" {{
  stage.json {{
    expressions = {{ grpc_code = "code" }}
  }}
  stage.labels {{
    values = {{ grpc_code = "" }}
  }}
  forward_to = [loki.write.default.receiver]
}}

loki.write "default" {{
  endpoint {{
    url = "{LOKI_PUSH_URL}"
  }}
}}

// OpenTelemetry from the apps (OTLP over gRPC {OTLP_GRPC_PORT} and HTTP {OTLP_HTTP_PORT}): metrics to
// Prometheus, logs to Loki, spans dropped (the platform has no trace store yet).
otelcol.receiver.otlp "apps" {{
  grpc {{
    endpoint = "0.0.0.0:{OTLP_GRPC_PORT}"
  }}
  http {{
    endpoint = "0.0.0.0:{OTLP_HTTP_PORT}"
  }}
  output {{
    metrics = [otelcol.processor.batch.apps.input]
    logs    = [otelcol.processor.batch.apps.input]
    traces  = [otelcol.processor.filter.drop_spans.input]
  }}
}}

// A receiver serves only the signals its output names: without a traces output it would refuse
// the apps' spans (Unimplemented) and their exporters would log an error for every batch. This
// filter accepts every span and drops it, so nothing reaches its output (which the component
// requires to take spans at all).
otelcol.processor.filter "drop_spans" {{
  error_mode = "ignore"
  traces {{
    span = ["true"]
  }}
  output {{
    traces = [otelcol.processor.batch.apps.input]
  }}
}}

otelcol.processor.batch "apps" {{
  output {{
    metrics = [otelcol.exporter.prometheus.apps.input]
    logs    = [otelcol.exporter.loki.apps.input]
  }}
}}

otelcol.exporter.prometheus "apps" {{
  forward_to = [prometheus.remote_write.default.receiver]
}}

prometheus.remote_write "default" {{
  endpoint {{
    url = "{PROMETHEUS_WRITE_URL}"
  }}
}}

otelcol.exporter.loki "apps" {{
  forward_to = [loki.write.default.receiver]
}}
"""


# Alloy's image ships the user `alloy` (uid 473); its WAL and positions go to an emptyDir, so the
# root filesystem can stay read-only.
ALLOY_UID = 473
ALLOY_STORAGE = "/var/lib/alloy/data"


def alloy_replicas(spec: EnvironmentSpec) -> int:
    return max(1, min(3, spec.observability.loki.replicas))


def alloy_values(spec: EnvironmentSpec) -> dict[str, Any]:
    replicas = alloy_replicas(spec)
    return {
        # API-based tailing needs no hostPath, so Alloy runs as a clustered Deployment
        # that shares the targets instead of a privileged DaemonSet.
        "global": {
            "podSecurityContext": {"fsGroup": ALLOY_UID, "seccompProfile": {"type": "RuntimeDefault"}}
        },
        "controller": {
            "type": "deployment",
            "replicas": replicas,
            "volumes": {"extra": [{"name": "storage", "emptyDir": {}}]},
        },
        "configReloader": {"resources": sizing.resources(sizing.SIDECAR)},
        "alloy": {
            "resources": sizing.resources(sizing.SERVICE),
            "securityContext": restricted_container(ALLOY_UID),
            "storagePath": ALLOY_STORAGE,
            "livenessProbe": {"httpGet": {"path": "/-/healthy", "port": 12345}, "initialDelaySeconds": 10},
            "mounts": {"extra": [{"name": "storage", "mountPath": ALLOY_STORAGE}]},
            "clustering": {"enabled": replicas > 1},
            "configMap": {"content": alloy_config(replicas > 1)},
            "extraPorts": [
                {
                    "name": "otlp-grpc",
                    "port": OTLP_GRPC_PORT,
                    "targetPort": OTLP_GRPC_PORT,
                    "protocol": "TCP",
                },
                {
                    "name": "otlp-http",
                    "port": OTLP_HTTP_PORT,
                    "targetPort": OTLP_HTTP_PORT,
                    "protocol": "TCP",
                },
            ],
        },
    }


class Observability(pulumi.ComponentResource):
    def __init__(  # noqa: PLR0917 - Pulumi components take their options positionally
        self,
        spec: EnvironmentSpec,
        charts: Charts,
        namespace: pulumi.Resource,
        receiver_urls: Mapping[str, pulumi.Input[str]],
        opts: pulumi.ResourceOptions | None = None,
        loki_storage: Mapping[str, pulumi.Input[str]] | None = None,
    ) -> None:
        super().__init__("meridian:platform:Observability", "observability", None, opts)
        self.grafana_admin_password = generated_password("grafana-admin-password", parent=self).value
        stack = charts.release(
            "kube-prometheus-stack",
            prometheus_stack_values(spec, self.grafana_admin_password, receiver_urls),
            parent=self,
            depends_on=[namespace],
        )
        loki_needs: list[pulumi.Resource] = [namespace]
        if spec.observability.loki.mode is LokiMode.SIMPLE_SCALABLE:
            secret = loki_storage_secret(loki_storage or {})
            loki_needs.append(declare(secret, pulumi.ResourceOptions(parent=self, depends_on=[namespace])))
        loki = charts.release("loki", loki_values(spec), parent=self, depends_on=loki_needs)
        charts.release(
            "alloy",
            alloy_values(spec),
            parent=self,
            depends_on=[namespace] + ([loki] if loki is not None else []),
        )
        # PrometheusRules need the operator's CRDs, which come with the stack's chart.
        self.rules_ready: list[pulumi.Resource] = [stack] if stack is not None else []
        self.register_outputs({})


def dashboard_config_map(spec: EnvironmentSpec, app_name: str) -> Manifest:
    """The app's dashboard where Grafana's sidecar loads it: the monitoring namespace, labelled."""
    labels = {DASHBOARD_LABEL: "1", TEAM_LABEL: spec.apps[app_name].team}
    data = {f"{app_name}.json": dashboards.render(app_name)}
    return manifest("v1", "ConfigMap", f"dashboard-{app_name}", NAMESPACE, labels=labels, data=data)


class AppObservability(pulumi.ComponentResource):
    """Per app: SLO recording and alert rules in the app's namespace, and its Grafana dashboard."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        observability: Observability,
        namespaces: Mapping[str, pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("meridian:platform:AppObservability", "app-observability", None, opts)
        for app_name in sorted(spec.apps):
            # Without the stack's chart there is no PrometheusRule CRD to create them against.
            if observability.rules_ready:
                after_crd = [namespaces[app_name], *observability.rules_ready]
                rule = slo.prometheus_rule(spec, app_name)
                declare(rule, pulumi.ResourceOptions(parent=self, depends_on=after_crd))
            declare(
                dashboard_config_map(spec, app_name),
                pulumi.ResourceOptions(parent=self, depends_on=[namespaces[NAMESPACE]]),
            )
        self.register_outputs({})
