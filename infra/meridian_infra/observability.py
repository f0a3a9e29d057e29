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
import pulumi_random as random

from meridian_infra import dashboards, slo
from meridian_infra.helm import Charts
from meridian_infra.objects import TEAM_LABEL, Manifest, declare, manifest
from meridian_infra.spec.models import EnvironmentSpec, LokiMode

NAMESPACE = "monitoring"
LOKI_PUSH_URL = f"http://loki-gateway.{NAMESPACE}.svc/loki/api/v1/push"
LOKI_QUERY_URL = f"http://loki-gateway.{NAMESPACE}.svc"
DASHBOARD_LABEL = "grafana_dashboard"


def alertmanager_config(
    spec: EnvironmentSpec, receiver_urls: Mapping[str, pulumi.Input[str]]
) -> dict[str, Any]:
    """Alerts route by severity; anything unrouted goes to a receiver that drops it, loudly named."""
    receivers = sorted({route.receiver for route in spec.observability.alert_routes})
    return {
        "route": {
            "receiver": "unrouted",
            "group_by": ["alertname", "namespace", "service"],
            "group_wait": "30s",
            "group_interval": "5m",
            "routes": [
                {
                    "receiver": route.receiver,
                    "matchers": [f'severity="{route.severity}"'],
                    "repeat_interval": route.repeat_interval,
                }
                for route in spec.observability.alert_routes
            ],
        },
        "receivers": [{"name": "unrouted"}]
        + [
            {"name": name, "webhook_configs": [{"url": receiver_urls[name], "send_resolved": True}]}
            if name in receiver_urls
            else {"name": name}
            for name in receivers
        ],
    }


def prometheus_stack_values(
    spec: EnvironmentSpec, grafana_password: pulumi.Input[str], receiver_urls: Mapping[str, pulumi.Input[str]]
) -> dict[str, Any]:
    obs = spec.observability
    storage = {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": obs.storage}}}}}
    return {
        "prometheus": {
            "prometheusSpec": {
                "replicas": obs.prometheus_replicas,
                "retention": obs.retention,
                "storageSpec": storage,
                # Select monitors and rules from every namespace, not only the chart's own release.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
            },
        },
        "alertmanager": {
            "alertmanagerSpec": {"replicas": obs.alertmanager_replicas},
            "config": alertmanager_config(spec, receiver_urls),
        },
        "grafana": {
            "replicas": obs.grafana_replicas,
            "adminPassword": grafana_password,
            "sidecar": {"dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "searchNamespace": "ALL"}},
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
    values: dict[str, Any] = {
        "loki": common,
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
    }
    if loki.mode is LokiMode.SINGLE_BINARY:
        common["storage"] = {"type": "filesystem"}
        values |= {
            "deploymentMode": "SingleBinary",
            "singleBinary": {
                "replicas": loki.replicas,
                # Without persistence the chart mounts an emptyDir: no claim waits for a StorageClass.
                "persistence": {"enabled": loki.persistence, "size": loki.storage},
            },
            "read": {"replicas": 0},
            "write": {"replicas": 0},
            "backend": {"replicas": 0},
        }
    else:
        # Object storage is required for the scalable layout; bucket names follow the environment.
        common["storage"] = {
            "type": "s3",
            "bucketNames": {
                kind: f"meridian-{spec.name}-loki-{kind}" for kind in ("chunks", "ruler", "admin")
            },
        }
        values |= {
            "deploymentMode": "SimpleScalable",
            "read": {"replicas": loki.replicas},
            "write": {"replicas": loki.replicas, "persistence": {"size": loki.storage}},
            "backend": {"replicas": loki.replicas, "persistence": {"size": loki.storage}},
            "singleBinary": {"replicas": 0},
        }
    return values


ALLOY_CONFIG = f"""// Tail every pod's logs through the Kubernetes API; ship them to Loki with their labels.
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
  forward_to = [loki.process.json.receiver]
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
"""


def alloy_values(spec: EnvironmentSpec) -> dict[str, Any]:
    replicas = max(1, min(3, spec.observability.loki.replicas))
    return {
        # API-based tailing needs no hostPath, so Alloy runs as a clustered Deployment
        # that shares the targets instead of a privileged DaemonSet.
        "controller": {"type": "deployment", "replicas": replicas},
        "alloy": {"clustering": {"enabled": replicas > 1}, "configMap": {"content": ALLOY_CONFIG}},
    }


class Observability(pulumi.ComponentResource):
    def __init__(
        self,
        spec: EnvironmentSpec,
        charts: Charts,
        namespace: pulumi.Resource,
        receiver_urls: Mapping[str, pulumi.Input[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("meridian:platform:Observability", "observability", None, opts)
        password = random.RandomPassword(
            "grafana-admin-password", length=24, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        self.grafana_admin_password = pulumi.Output.secret(password.result)
        stack = charts.release(
            "kube-prometheus-stack",
            prometheus_stack_values(spec, self.grafana_admin_password, receiver_urls),
            parent=self,
            depends_on=[namespace],
        )
        loki = charts.release("loki", loki_values(spec), parent=self, depends_on=[namespace])
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
    return manifest(
        "v1",
        "ConfigMap",
        f"dashboard-{app_name}",
        NAMESPACE,
        labels={DASHBOARD_LABEL: "1", TEAM_LABEL: spec.apps[app_name].team},
        data={f"{app_name}.json": dashboards.render(app_name, spec.apps[app_name])},
    )


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
