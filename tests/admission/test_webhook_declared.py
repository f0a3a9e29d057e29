"""What the platform program declares for the policy webhook, run under Pulumi's mocks: on real
clusters OPA with the repository's policies, its certificate and its registration; on the local
control plane the registration only, trusting the cluster's CA."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import pytest
from meridian_core.layout import Repo
from meridian_core.yamlio import load_all
from meridian_infra import policy_webhook as pw
from meridian_infra.charts import CHARTS
from meridian_infra.cluster import ClusterAccess
from meridian_infra.offline import DEPLOY_TIME, record_platform
from meridian_infra.spec import load_environment
from meridian_infra.spec.models import ClusterType
from policies.policy_fixtures import BROKEN, broken_fixture

from meridian.policy.context import environment_context
from meridian.toolchain import load_manifest, pinned_version

ENVS = ["dev", "staging", "prod"]
LOCAL_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nlocal\n-----END CERTIFICATE-----\n").decode()
LOCAL_KUBECONFIG = f"""
apiVersion: v1
kind: Config
clusters:
- name: meridian-local
  cluster: {{server: "https://127.0.0.1:16443", certificate-authority-data: {LOCAL_CA}}}
"""


def _objects(recording):
    return {
        (d.inputs["kind"], d.inputs["metadata"]["name"]): d.inputs
        for d in recording.kubernetes_objects()
        if d.component == "policywebhook"
    }


@pytest.fixture(scope="module")
def declared(repo_root):
    """Per environment, the webhook's objects on the cluster its spec names (dev: kind, as on a
    machine with a container runtime), and dev's on the local control plane."""
    runs = {}
    for env in ENVS:
        spec = load_environment(repo_root / "environments", env)
        access = ClusterAccess(kubeconfig="<kubeconfig>", container_runtime=True)
        runs[env] = (spec, _objects(record_platform(spec, access)[1]))
    spec = load_environment(repo_root / "environments", "dev")
    local = ClusterAccess(kubeconfig=LOCAL_KUBECONFIG, container_runtime=False)
    runs["local"] = (spec, _objects(record_platform(spec, local)[1]))
    return runs


def _configuration(objects):
    return objects[("ValidatingWebhookConfiguration", pw.CONFIGURATION)]


@pytest.mark.parametrize("env", ENVS)
def test_real_clusters_get_opa_and_its_registration(declared, env):
    spec, objects = declared[env]
    assert spec.cluster.type in (ClusterType.KIND, ClusterType.AUTO, ClusterType.EXISTING)
    assert set(objects) == {
        ("ValidatingWebhookConfiguration", "meridian-admission"),
        ("Service", "opa"),
        ("ConfigMap", "opa-policies"),
        ("Secret", "opa-tls"),
        ("ServiceAccount", "opa"),
        ("Deployment", "opa"),
        ("PodDisruptionBudget", "opa"),
    }
    for (kind, _), obj in objects.items():
        if kind != "ValidatingWebhookConfiguration":
            assert obj["metadata"]["namespace"] == "meridian-admission"


def test_the_local_control_plane_gets_the_registration_and_a_service_without_pods(declared):
    _, objects = declared["local"]
    assert set(objects) == {("ValidatingWebhookConfiguration", "meridian-admission"), ("Service", "opa")}
    assert "selector" not in objects[("Service", "opa")]["spec"]
    for webhook in _configuration(objects)["webhooks"]:
        # The cluster's own CA signs the process's certificate (meridian.cluster.pki).
        assert webhook["clientConfig"]["caBundle"] == LOCAL_CA


@pytest.mark.parametrize("env", [*ENVS, "local"])
def test_every_webhook_calls_opa_through_its_service(declared, env):
    _, objects = declared[env]
    service = objects[("Service", "opa")]
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}]
    webhooks = _configuration(objects)["webhooks"]
    assert [w["name"] for w in webhooks] == [
        "apps.admission.meridian.dev",
        "platform.admission.meridian.dev",
        "cluster.admission.meridian.dev",
    ]
    for webhook in webhooks:
        assert webhook["clientConfig"]["service"] == {
            "namespace": "meridian-admission",
            "name": "opa",
            "port": 443,
            "path": "/",
        }
        # sideEffects None: the API server calls it for dry runs too (`kubectl apply --dry-run=server`).
        assert webhook["sideEffects"] == "None"
        assert webhook["admissionReviewVersions"] == ["v1"]
        assert {r["operations"] == ["CREATE", "UPDATE"] for r in webhook["rules"]} == {True}
        names = [c["name"] for c in webhook["matchConditions"]]
        assert names[:2] == ["not-kubernetes-itself", "not-made-by-a-controller-for-its-owner"]


@pytest.mark.parametrize(("env", "apps_policy"), [("dev", "Ignore"), ("staging", "Fail"), ("prod", "Fail")])
def test_app_namespaces_fail_closed_outside_dev_and_the_platform_never(declared, env, apps_policy):
    _, objects = declared[env]
    policies = {w["name"].split(".")[0]: w["failurePolicy"] for w in _configuration(objects)["webhooks"]}
    assert policies == {"apps": apps_policy, "platform": "Ignore", "cluster": "Ignore"}


@pytest.mark.parametrize("env", ENVS)
def test_tiers_are_selected_by_the_labels_the_platform_sets_on_its_namespaces(declared, repo_root, env):
    spec, objects = declared[env]
    apps, platform, cluster = _configuration(objects)["webhooks"]
    assert apps["namespaceSelector"] == {"matchLabels": {"meridian.dev/tier": "app"}}
    assert platform["namespaceSelector"] == {"matchLabels": {"meridian.dev/tier": "platform"}}
    assert "namespaceSelector" not in cluster
    assert {r["scope"] for r in cluster["rules"]} == {"Cluster"}
    context = pw.context_objects(spec)
    tiers = {
        o["metadata"]["name"]: o["metadata"]["labels"]["meridian.dev/tier"]
        for o in context
        if o["kind"] == "Namespace"
    }
    assert tiers == {**dict.fromkeys(spec.apps, "app"), **dict.fromkeys(spec.platform_namespaces, "platform")}


def _plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + ("es" if lower.endswith("s") else "s")


def test_every_kind_a_rule_judges_at_admission_is_sent_to_opa(repo_root, tmp_path):
    """The objects each broken fixture's rules fire on are of kinds some webhook is called for (the
    render's HelmRelease summaries never reach an API server)."""
    documents = [
        {"path": path.name, "contents": obj} for path in BROKEN for obj in load_all(path.read_text()) if obj
    ]
    (tmp_path / "input.json").write_text(json.dumps(documents))
    (tmp_path / "data.json").write_text(json.dumps({"meridian": {"environment": "prod"}}))
    query = '[[f.file, f.rule, f.kind] | some f in data.main.deny | data.main.warn; f.type == "finding"]'
    found = json.loads(
        _opa_eval(repo_root, query, "-i", str(tmp_path / "input.json"), "-d", str(tmp_path / "data.json"))
    )
    ci_only = set(json.loads(_opa_eval(repo_root, "data.meridian.catalog.ci_only")))
    expected = {path.name: broken_fixture(path).expected for path in BROKEN}
    sent = {r for rs in pw.NAMESPACED_RESOURCES.values() for r in rs} | {"namespaces"}
    sent |= {r for rs in pw.CLUSTER_RESOURCES.values() for r in rs}
    judged = {(rule, kind) for file, rule, kind in found if rule in expected[file] and rule not in ci_only}
    assert {rule for rule, _ in judged} >= {r for rules in expected.values() for r in rules} - ci_only - {
        "MER-PLT-004",
        "MER-PLT-005",
    }
    missing = {(rule, kind) for rule, kind in judged if kind != "HelmRelease" and _plural(kind) not in sent}
    assert not missing


def _opa_eval(repo_root: Path, query: str, *extra: str) -> str:
    opa = repo_root / "bin" / "opa"
    if not opa.exists():
        pytest.fail("bin/opa is missing: run `make tools` (meridian tools install --group go)")
    command = [str(opa), "eval", "--format=raw", "-d", str(repo_root / "policies" / "rego"), *extra, query]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_bundle_is_the_repositorys_policies_and_the_environments_data(declared, repo_root, env):
    _, objects = declared[env]
    data = objects[("ConfigMap", "opa-policies")]["data"]
    rego = sorted((repo_root / "policies" / "rego").rglob("*.rego"))
    adapter = sorted((repo_root / "policies" / "admission").glob("*.rego"))
    expected = {str(p.relative_to(repo_root)).replace("/", "_"): p.read_text() for p in [*rego, *adapter]}
    charts = (repo_root / "policies" / "exemptions" / "charts.yaml").read_text()
    assert {k: v for k, v in data.items() if k.endswith(".rego")} == expected
    assert data["policies_exemptions_charts.yaml"] == charts
    admission = json.loads(data["admission.json"])
    assert admission["environment"] == env
    # How a Helm hook's release is found: every pinned chart, where the platform installs it.
    assert {(r["release"], r["chart"], r["version"], r["namespace"]) for r in admission["releases"]} == {
        (key, pin.chart, pin.version, pin.namespace) for key, pin in CHARTS.items()
    }

    def key(o):
        return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])

    # What the gate shows the rules of this environment when it checks one file.
    gate_context = environment_context(Repo(repo_root), env)
    assert sorted(admission["context"], key=key) == sorted(gate_context, key=key)


@pytest.mark.parametrize("env", ENVS)
def test_opa_runs_pinned_with_every_file_of_the_bundle_where_its_arguments_say(declared, repo_root, env):
    _, objects = declared[env]
    deployment = objects[("Deployment", "opa")]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    manifest = load_manifest(Repo(repo_root))
    opa = next(t for t in manifest.tools if t.name == "opa")
    assert (
        container["image"] == f"openpolicyagent/opa:{pinned_version(Repo(repo_root), opa).lstrip('v')}-static"
    )
    items = {i["key"]: i["path"] for i in pod["volumes"][0]["configMap"]["items"]}
    assert set(items) == set(objects[("ConfigMap", "opa-policies")]["data"])
    mounted = {f"/bundle/{path}" for path in items.values()}
    args = container["args"]
    assert args[:2] == ["run", "--server"]
    assert "--authorization=basic" in args and "--skip-version-check" in args and "--watch" not in args
    loaded = [a.split(":", 1)[-1] for a in args if not a.startswith("-") and a not in ("run",)]
    for path in loaded:
        assert path in mounted or any(m.startswith(path + "/") for m in mounted), path
    assert "--tls-cert-file=/tls/tls.crt" in args
    assert pod["volumes"][1] == {"name": "tls", "secret": {"secretName": "opa-tls"}}


@pytest.mark.parametrize(("env", "replicas"), [("dev", 1), ("staging", 2), ("prod", 2)])
def test_fail_closed_environments_run_two_opas_under_a_budget(declared, env, replicas):
    _, objects = declared[env]
    deployment = objects[("Deployment", "opa")]
    assert deployment["spec"]["replicas"] == replicas
    budget = objects[("PodDisruptionBudget", "opa")]["spec"]
    assert budget == {"maxUnavailable": 1, "selector": deployment["spec"]["selector"]}
    assert (
        objects[("Service", "opa")]["spec"]["selector"]
        == deployment["spec"]["template"]["metadata"]["labels"]
    )


@pytest.mark.parametrize("env", ENVS)
def test_the_ca_bundle_and_the_serving_certificate_come_from_the_stacks_own_ca(declared, env):
    _, objects = declared[env]
    for webhook in _configuration(objects)["webhooks"]:
        # The mocks stand in DEPLOY_TIME for every certificate output: this is the CA's, encoded.
        assert base64.b64decode(webhook["clientConfig"]["caBundle"]).decode() == DEPLOY_TIME
    secret = objects[("Secret", "opa-tls")]
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["stringData"]) == {"tls.crt", "tls.key"}
    assert re.match(
        r"^expires=\d{4}-\d{2}-\d{2}; reason=",
        secret["metadata"]["annotations"]["exemption.meridian.dev/MER-SEC-001"],
    )


def test_the_certificate_names_the_service_the_api_server_calls(repo_root):
    spec = load_environment(repo_root / "environments", "prod")
    (certificates,) = record_platform(spec)[1].of_type("pulumi-python:dynamic/tls:AdmissionCertificates")
    host = "opa.meridian-admission.svc"
    assert certificates.inputs["common_name"] == host
    assert certificates.inputs["names"] == [host, f"{host}.cluster.local"]


def test_a_changed_rule_restarts_the_pods(repo_root):
    spec = load_environment(repo_root / "environments", "prod")
    files = pw.bundle_files(repo_root)
    data = pw.admission_data("prod", [])
    before = pw.deployment(spec, files, data)["spec"]["template"]["metadata"]["annotations"]
    changed = {**files, "policies/rego/rules/images.rego": files["policies/rego/rules/images.rego"] + "\n"}
    after = pw.deployment(spec, changed, data)["spec"]["template"]["metadata"]["annotations"]
    assert before["checksum/policies"] != after["checksum/policies"]


def test_a_spec_without_the_webhooks_namespace_is_refused_naming_the_file(repo_root):
    spec = load_environment(repo_root / "environments", "staging")
    spec = spec.model_copy(
        update={
            "platform_namespaces": {k: v for k, v in spec.platform_namespaces.items() if k != pw.NAMESPACE}
        }
    )
    with pytest.raises(
        pw.PolicyWebhookNotConfigured, match=r"environments/staging/platform.yaml: .*meridian-admission"
    ):
        record_platform(spec)
