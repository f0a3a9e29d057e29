"""What the pinned charts really install with Meridian's values, read from `helm template` output:
alerts reach a receiver, webhooks and scrapes get through the network policies, every container is
sized, storage and replicas are what production needs, and no credential is a literal."""

from __future__ import annotations

import base64
import urllib.parse

import pytest
import rendered_objects as ro
import yaml
from meridian_core import quantity
from meridian_infra import admission, sizing
from meridian_infra.argocd import KUSTOMIZE_BUILD_OPTIONS
from meridian_infra.observability.stack import (
    ALWAYS_FIRING,
    OTLP_ENDPOINT,
    GrafanaNotShared,
    prometheus_stack_values,
)
from meridian_infra.vault.certificates import CA_SECRET, SERVER_SECRET, SERVER_TLS_DIR

ENVS = ["dev", "staging", "prod"]


def _policies(render, namespace):
    return [
        o for o in render.program if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == namespace
    ]


def _secret_value(secret, key):
    if key in (secret.get("stringData") or {}):
        return secret["stringData"][key]
    return base64.b64decode(secret["data"][key]).decode()


def _workloads(objects):
    return [o for o in objects if ro.pod_spec(o) is not None]


@pytest.mark.parametrize("env", ENVS)
def test_every_alert_the_charts_ship_reaches_a_receiver_that_sends_it(rendered, env):
    render = rendered[env]
    secret = next(
        o
        for o in render.find("Secret", release="kube-prometheus-stack")
        if "alertmanager.yaml" in {**(o.get("data") or {}), **(o.get("stringData") or {})}
    )
    config = yaml.safe_load(_secret_value(secret, "alertmanager.yaml"))
    sending = {r["name"] for r in config["receivers"] if r.get("webhook_configs")}
    alerts = [
        rule
        for rules in render.find("PrometheusRule", release="kube-prometheus-stack")
        for group in rules["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    severities = {a.get("labels", {}).get("severity") for a in alerts}
    assert {"critical", "warning"} <= severities  # the chart's own alerts are in the render
    dropped = [
        (a["alert"], a.get("labels", {}).get("severity"))
        for a in alerts
        if a["alert"] not in ALWAYS_FIRING
        and ro.route(config["route"], {"alertname": a["alert"], **a.get("labels", {})}) not in sending
    ]
    assert not dropped, f"{len(dropped)} of {len(alerts)} alerts go nowhere, e.g. {dropped[:5]}"
    # An alert nothing routes (a severity no rule uses) still goes to a receiver that sends it.
    assert ro.route(config["route"], {"alertname": "Unknown", "severity": "none"}) in sending


@pytest.mark.parametrize("env", ENVS)
def test_the_api_server_reaches_every_admission_webhook_through_the_network_policies(rendered, env):
    render = rendered[env]
    configs = render.find("MutatingWebhookConfiguration") + render.find("ValidatingWebhookConfiguration")
    webhooks = [w for c in configs for w in c.get("webhooks") or [] if "service" in w["clientConfig"]]
    names = {w["name"] for w in webhooks}
    assert any("vault" in n for n in names) and any("monitoring.coreos.com" in n for n in names), names
    everything = render.chart_objects + render.program  # the program runs a webhook too (OPA)
    for webhook in webhooks:
        ref = webhook["clientConfig"]["service"]
        service = next(
            o
            for o in everything
            if o["kind"] == "Service"
            and (o["metadata"]["name"], o["metadata"]["namespace"]) == (ref["name"], ref["namespace"])
        )
        if "selector" not in service["spec"]:
            continue  # served off the pod network: the local control plane forwards it to loopback
        port = next(p for p in service["spec"]["ports"] if p["port"] == ref.get("port", 443))
        pods = [
            w
            for w in _workloads(everything)
            if w["metadata"]["namespace"] == ref["namespace"]
            and ro.selects(service["spec"]["selector"], ro.pod_labels(w))
        ]
        assert pods, f"webhook {webhook['name']}: no workload behind Service {ref['name']}"
        for pod in pods:
            target = ro.container_port(ro.pod_spec(pod), port.get("targetPort", port["port"]))
            assert ro.ingress_allows_anywhere(
                _policies(render, ref["namespace"]), ro.pod_labels(pod), target
            ), (
                f"webhook {webhook['name']} ({pod['kind']} {pod['metadata']['name']}:{target}) "
                "is behind default-deny"
            )


# staging and prod run on clusters the platform shares and fail closed; dev's local control plane
# runs no webhook process, so there every call fails and its webhooks fail open (admission.py).
FAILURE_POLICY = {"dev": "Ignore", "staging": "Fail", "prod": "Fail"}
OPERATOR_WEBHOOKS = {
    "prometheusrulemutate.monitoring.coreos.com",
    "prometheusrulevalidate.monitoring.coreos.com",
    "alertmanagerconfigsvalidate.monitoring.coreos.com",
}


@pytest.mark.parametrize("env", ENVS)
def test_each_admission_webhook_fails_as_its_environment_decides(rendered, env):
    render = rendered[env]
    configs = render.find("MutatingWebhookConfiguration") + render.find("ValidatingWebhookConfiguration")
    webhooks = {w["name"]: w for c in configs for w in c.get("webhooks") or []}
    assert OPERATOR_WEBHOOKS | {"vault.hashicorp.com"} <= set(webhooks), sorted(webhooks)
    policies = {
        name: webhooks[name].get("failurePolicy") for name in OPERATOR_WEBHOOKS | {"vault.hashicorp.com"}
    }
    assert set(policies.values()) == {FAILURE_POLICY[env]}, policies
    assert admission.failure_policy(render.spec) == FAILURE_POLICY[env]
    # The chart's post-install job patches the CA bundle in, and the failure policy with it.
    patch = next(
        o
        for o in render.find("Job", release="kube-prometheus-stack")
        if o["metadata"]["name"].endswith("-patch")
    )
    args = [a for c in ro.pod_spec(patch)["containers"] for a in c.get("args") or []]
    assert f"--patch-failure-policy={FAILURE_POLICY[env]}" in args, args
    # Failing closed must not stop what the webhook does not serve: the injector sees app namespaces
    # only, the operator's webhooks every namespace but the one whose rules come with the chart.
    app_namespace = {"kubernetes.io/metadata.name": "orders", "meridian.dev/tier": "app"}
    for name in ("vault", "monitoring", "kube-system"):
        platform_namespace = {"kubernetes.io/metadata.name": name, "meridian.dev/tier": "platform"}
        assert not ro.selects(webhooks["vault.hashicorp.com"]["namespaceSelector"], platform_namespace)
    assert ro.selects(webhooks["vault.hashicorp.com"]["namespaceSelector"], app_namespace)
    for name in OPERATOR_WEBHOOKS:
        selector = webhooks[name]["namespaceSelector"]
        assert not ro.selects(selector, {"kubernetes.io/metadata.name": "monitoring"}), name
        assert ro.selects(selector, app_namespace), name


@pytest.mark.parametrize("env", ENVS)
def test_prometheus_may_reach_the_node_level_targets_the_chart_scrapes(rendered, env):
    render = rendered[env]
    exporter = next(
        o
        for o in render.find("DaemonSet", release="kube-prometheus-stack")
        if "node-exporter" in o["metadata"]["name"]
    )
    spec = ro.pod_spec(exporter)
    assert spec.get("hostNetwork") is True
    ports = {p["containerPort"] for c in spec["containers"] for p in c.get("ports") or []}
    # The control-plane Services the chart creates in kube-system point at host-network pods.
    for service in render.find("Service", release="kube-prometheus-stack"):
        if service["metadata"]["namespace"] == "kube-system" and "coredns" not in service["metadata"]["name"]:
            ports |= {p.get("targetPort", p["port"]) for p in service["spec"]["ports"]}
    monitors = {m["metadata"]["name"] for m in render.find("ServiceMonitor", release="kube-prometheus-stack")}
    if any(name.endswith("-kubelet") for name in monitors):
        ports.add(10250)
    prometheus = render.one("Prometheus", "kube-prometheus-stack-prometheus")
    labels = {"app.kubernetes.io/name": "prometheus", "prometheus": prometheus["metadata"]["name"]}
    blocked = sorted(
        p for p in ports if not ro.egress_allows_addresses(_policies(render, "monitoring"), labels, int(p))
    )
    assert not blocked, f"monitoring egress blocks node ports {blocked}"


@pytest.mark.parametrize("env", ENVS)
def test_every_chart_container_has_its_own_requests_and_limits(rendered, env):
    unsized = [
        f"{w['kind']} {w['metadata']['name']}/{c['name']}"
        for w in _workloads(rendered[env].chart_objects)
        # Only a chart that takes no resources for a container may leave it unsized, exempted.
        if "exemption.meridian.dev/MER-RES-001" not in (w["metadata"].get("annotations") or {})
        for c in ro.containers(ro.pod_spec(w))
        if not {"cpu", "memory"} <= set((c.get("resources") or {}).get("requests") or {})
        or "memory" not in ((c.get("resources") or {}).get("limits") or {})
    ]
    assert not unsized, f"fall back to the namespace's LimitRange: {unsized}"


@pytest.mark.parametrize("env", ENVS)
def test_prometheus_is_sized_from_the_volume_it_retains(rendered, env):
    render = rendered[env]
    prometheus = render.one("Prometheus", "kube-prometheus-stack-prometheus")
    expected = sizing.prometheus_size(render.spec.observability.storage)
    assert prometheus["spec"]["resources"]["requests"]["memory"] == expected.memory_request
    assert prometheus["spec"]["retention"] == render.spec.observability.retention
    if env == "prod":  # 30 days on 200Gi: far above the 512Mi a LimitRange default would give
        assert quantity.parse(expected.memory_request) >= 4 * 2**30


@pytest.mark.parametrize("env", ENVS)
def test_platform_requests_fit_each_namespace_quota(rendered, env):
    render = rendered[env]
    used: dict[str, dict[str, object]] = {}
    for w in _workloads(render.chart_objects):
        if w["kind"] == "Job" or w["metadata"].get("annotations", {}).get("helm.sh/hook"):
            continue  # hooks run before or after the release's pods, one at a time
        replicas = w["spec"].get("replicas", 1) if w["kind"] != "DaemonSet" else 1
        totals = used.setdefault(w["metadata"]["namespace"], {"cpu": 0, "memory": 0})
        for c in ro.pod_spec(w).get("containers") or []:
            requests = c["resources"]["requests"]
            totals["cpu"] += quantity.parse(str(requests["cpu"])) * replicas
            totals["memory"] += quantity.parse(str(requests["memory"])) * replicas
    for kind in ("Prometheus", "Alertmanager"):
        for cr in render.find(kind):
            totals = used.setdefault(cr["metadata"]["namespace"], {"cpu": 0, "memory": 0})
            requests = cr["spec"]["resources"]["requests"]
            totals["cpu"] += quantity.parse(requests["cpu"]) * cr["spec"].get("replicas", 1)
            totals["memory"] += quantity.parse(requests["memory"]) * cr["spec"].get("replicas", 1)
    for namespace, totals in used.items():
        quota = render.spec.platform_namespaces[namespace]
        assert totals["cpu"] <= quantity.parse(quota.cpu), (namespace, float(totals["cpu"]))
        assert totals["memory"] <= quantity.parse(quota.memory), (namespace, float(totals["memory"]) / 2**20)


def test_prod_loki_is_told_where_its_buckets_are_and_how_to_sign_in(rendered):
    render = rendered["prod"]
    config_source = next(
        o
        for o in render.find("ConfigMap", release="loki") + render.find("Secret", release="loki")
        if "config.yaml" in {**(o.get("data") or {}), **(o.get("stringData") or {})}
    )
    raw = config_source["data"]["config.yaml"]
    config = yaml.safe_load(raw if config_source["kind"] == "ConfigMap" else base64.b64decode(raw).decode())
    s3 = config["common"]["storage"]["s3"]
    assert s3["endpoint"] == "${LOKI_S3_ENDPOINT}" and s3["region"] == "${LOKI_S3_REGION}"
    assert "secret_access_key" not in s3 and "access_key_id" not in s3  # from the environment, not the config
    secret = render.one("Secret", "loki-object-storage")
    assert set(secret["stringData"]) == {
        "LOKI_S3_ENDPOINT",
        "LOKI_S3_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
    stores = [
        w
        for w in _workloads(render.charts["loki"])
        if w["metadata"]["name"] in {"loki-read", "loki-write", "loki-backend"}
    ]
    assert len(stores) == 3
    for workload in stores:
        loki = next(c for c in ro.pod_spec(workload)["containers"] if c["name"] == "loki")
        assert "-config.expand-env=true" in loki["args"], workload["metadata"]["name"]
        assert {"secretRef": {"name": "loki-object-storage"}} in loki.get("envFrom", [])


def test_prod_alloy_replicas_share_the_pods_they_tail(rendered):
    render = rendered["prod"]
    deployment = render.one("Deployment", "alloy", release="alloy")
    assert deployment["spec"]["replicas"] > 1
    alloy = next(c for c in ro.pod_spec(deployment)["containers"] if c["name"] == "alloy")
    assert "--cluster.enabled=true" in alloy["args"]
    config = render.one("ConfigMap", "alloy", release="alloy")["data"]["config.alloy"]
    source = config[config.index('loki.source.kubernetes "pods"') :].split("\n}\n", 1)[0]
    assert "clustering {\n    enabled = true" in source


@pytest.mark.parametrize("env", ENVS)
def test_grafana_runs_one_replica_on_its_one_database(rendered, env):
    grafana = rendered[env].one("Deployment", "kube-prometheus-stack-grafana")
    assert grafana["spec"].get("replicas", 1) == 1
    spec = rendered[env].spec
    two = spec.model_copy(
        update={"observability": spec.observability.model_copy(update={"grafana_replicas": 2})}
    )
    with pytest.raises(GrafanaNotShared, match="SQLite"):
        prometheus_stack_values(two, "pw", {})


def test_prod_loki_gateway_survives_losing_a_replica(rendered):
    render = rendered["prod"]
    gateway = render.one("Deployment", "loki-gateway", release="loki")
    assert gateway["spec"]["replicas"] >= 2
    budgets = [
        b
        for b in render.find("PodDisruptionBudget", release="loki")
        if ro.selects(b["spec"]["selector"], ro.pod_labels(gateway))
    ]
    assert budgets


def test_dev_vault_reads_its_root_token_from_a_secret(rendered):
    render = rendered["dev"]
    server = render.one("StatefulSet", "vault", release="vault")
    vault = next(c for c in ro.pod_spec(server)["containers"] if c["name"] == "vault")
    literal = [e["name"] for e in vault["env"] if "TOKEN" in e["name"] and e.get("value")]
    assert not literal, f"token as a literal: {literal}"
    from_secret = [e for e in vault["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    assert from_secret and from_secret[0]["valueFrom"]["secretKeyRef"]["name"] == "vault-dev-root-token"
    assert f'-dev-root-token-id="${from_secret[0]["name"]}"' in " ".join(vault["args"])
    assert render.one("Secret", "vault-dev-root-token")["stringData"]["token"].startswith("<")


@pytest.mark.parametrize("env", ENVS)
def test_apps_reach_the_otlp_collector(rendered, env):
    render = rendered[env]
    service = render.one("Service", "alloy", release="alloy")
    ports = {p["port"] for p in service["spec"]["ports"]}
    assert {4317, 4318} <= ports
    deployment = render.one("Deployment", "alloy", release="alloy")
    labels = ro.pod_labels(deployment)
    assert ro.selects(service["spec"]["selector"], labels)
    for app in render.spec.apps:
        egress = [p for p in _policies(render, app) if p["metadata"]["name"] == "allow-otlp"]
        assert egress and ro.selects(egress[0]["spec"]["egress"][0]["to"][0]["podSelector"], labels)
    ingress = next(
        p for p in _policies(render, "monitoring") if p["metadata"]["name"] == "allow-otlp-from-apps"
    )
    assert ro.selects(ingress["spec"]["podSelector"], labels)
    config = render.one("ConfigMap", "alloy", release="alloy")["data"]["config.alloy"]
    assert 'endpoint = "0.0.0.0:4317"' in config and 'endpoint = "0.0.0.0:4318"' in config
    # A receiver takes only the signals its output names: the apps' spans need a traces output.
    assert "traces  = [otelcol.processor.filter.drop_spans.input]" in config
    # The address the app overlays export to (tests/environments/test_otlp_export.py) is this Service.
    endpoint = urllib.parse.urlsplit(OTLP_ENDPOINT)
    assert endpoint.hostname == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert endpoint.port in ports


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_vault_outside_dev_serves_tls_with_the_platforms_certificate(rendered, env):
    render = rendered[env]
    config = next(
        o for o in render.find("ConfigMap", release="vault") if o["metadata"]["name"] == "vault-config"
    )
    hcl = next(iter(config["data"].values()))
    assert "tls_disable" not in hcl
    assert f'tls_cert_file = "{SERVER_TLS_DIR}/tls.crt"' in hcl
    assert "http://" not in hcl and 'leader_api_addr = "https://vault-0.vault-internal:8200"' in hcl
    server = render.one("StatefulSet", "vault", release="vault")
    mounted = {v["name"]: v for v in ro.pod_spec(server)["volumes"]}
    assert mounted["tls"]["secret"]["secretName"] == SERVER_SECRET
    vault = next(c for c in ro.pod_spec(server)["containers"] if c["name"] == "vault")
    assert any(m["mountPath"] == SERVER_TLS_DIR for m in vault["volumeMounts"])
    env_vars = {e["name"]: e.get("value") for e in vault["env"]}
    assert env_vars["VAULT_ADDR"].startswith("https://")
    injector = render.one("Deployment", "vault-agent-injector", release="vault")
    injector_env = {e["name"]: e.get("value") for e in ro.pod_spec(injector)["containers"][0]["env"]}
    assert injector_env["AGENT_INJECT_VAULT_ADDR"].startswith("https://")
    assert render.one("Secret", SERVER_SECRET)["type"] == "kubernetes.io/tls"
    for app in render.spec.apps:
        ca = [s for s in render.find("Secret", CA_SECRET) if s["metadata"]["namespace"] == app]
        assert len(ca) == 1 and set(ca[0]["stringData"]) == {"ca.crt"}


def test_dev_vault_serves_plain_http_and_hands_out_no_certificates(rendered):
    render = rendered["dev"]
    server = render.one("StatefulSet", "vault", release="vault")
    vault = next(c for c in ro.pod_spec(server)["containers"] if c["name"] == "vault")
    assert {e["name"]: e.get("value") for e in vault["env"]}["VAULT_ADDR"].startswith("http://")
    assert not render.find("Secret", SERVER_SECRET) and not render.find("Secret", CA_SECRET)


@pytest.mark.parametrize("env", ENVS)
def test_argo_cd_builds_the_overlays_with_the_options_meridian_render_uses(rendered, env):
    cm = rendered[env].one("ConfigMap", "argocd-cm", release="argo-cd")
    assert cm["data"]["kustomize.buildOptions"].split() == list(KUSTOMIZE_BUILD_OPTIONS)
