"""The platform program under Pulumi's mocks: the right objects per environment, and only those."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from meridian_infra.chart_sources import SourceKind
from meridian_infra.charts import CHARTS
from meridian_infra.cluster import ClusterAccess, ClusterUnavailable
from meridian_infra.offline import (
    OFFLINE_KUBECONFIG,
    RecordingMocks,
    offline_secrets,
    record_platform,
    run_offline,
    run_with_mocks,
)
from meridian_infra.program import declare_platform
from meridian_infra.spec import load_environment
from meridian_infra.stack import run

ENVS = ["dev", "staging", "prod"]


def objects(recording, kind, namespace=None):
    return [
        d.inputs
        for d in recording.kubernetes_objects()
        if d.inputs["kind"] == kind
        and (namespace is None or d.inputs["metadata"].get("namespace") == namespace)
    ]


@pytest.mark.parametrize("env", ENVS)
def test_every_namespace_of_the_spec_exists(declared, env):
    spec, _, recording = declared[env]
    names = {ns["metadata"]["name"] for ns in objects(recording, "Namespace")}
    assert names == set(spec.apps) | set(spec.platform_namespaces)


@pytest.mark.parametrize("env", ENVS)
def test_app_namespaces_are_restricted_with_quota_limits_and_default_deny(declared, env):
    spec, _, recording = declared[env]
    namespaces = {ns["metadata"]["name"]: ns for ns in objects(recording, "Namespace")}
    for app in spec.apps:
        labels = namespaces[app]["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels["meridian.dev/tier"] == "app"
        assert len(objects(recording, "ResourceQuota", app)) == 1
        assert len(objects(recording, "LimitRange", app)) == 1
        deny = [
            p for p in objects(recording, "NetworkPolicy", app) if p["metadata"]["name"] == "default-deny"
        ]
        assert deny and deny[0]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("env", ENVS)
def test_only_orders_may_reach_inventory(declared, env):
    _, _, recording = declared[env]
    ingress = {p["metadata"]["name"]: p for p in objects(recording, "NetworkPolicy", "inventory")}
    edge = ingress["allow-ingress-from-orders"]["spec"]["ingress"][0]
    assert edge["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "orders"}
    assert edge["ports"] == [{"protocol": "TCP", "port": 50051}]
    assert not [
        n for n in ingress if n.startswith("allow-ingress-from-") and n != "allow-ingress-from-orders"
    ]
    egress = {p["metadata"]["name"] for p in objects(recording, "NetworkPolicy", "orders")}
    assert {"allow-egress-to-inventory", "allow-dns", "allow-monitoring-scrape"} <= egress


@pytest.mark.parametrize("env", ENVS)
def test_quotas_follow_the_sizing_of_the_apps_overlay(declared, env):
    spec, platform, recording = declared[env]
    quota = objects(recording, "ResourceQuota", "orders")[0]["spec"]["hard"]
    sizing = spec.apps["orders"].sizing
    assert quota["limits.memory"].endswith(sizing.container.memory_limit[-2:])
    assert int(quota["pods"]) > sizing.max_replicas
    assert platform.namespaces.outputs.quotas["orders"] == quota
    (limits,) = objects(recording, "LimitRange", "orders")
    assert limits["spec"]["limits"][0]["max"] == {
        "cpu": sizing.container.cpu_limit,
        "memory": sizing.container.memory_limit,
    }


@pytest.mark.parametrize("env", ENVS)
def test_every_helm_release_is_pinned_to_the_catalog_version(declared, env):
    _, platform, recording = declared[env]
    releases = recording.helm_releases()
    assert {r.inputs["name"] for r in releases} == set(CHARTS)
    for release in releases:
        source = platform.charts.source(release.inputs["name"])
        if source.kind is SourceKind.ARCHIVES:  # a folder mirror: the archive named by the pinned version
            assert release.inputs["chart"] == str(source.archive)
            assert source.archive.name == f"{source.pin.chart}-{CHARTS[source.pin.name].version}.tgz"
        assert release.inputs["version"] == CHARTS[release.inputs["name"]].version
        if source.kind is SourceKind.REPOSITORY and source.upstream:
            assert release.inputs["repositoryOpts"]["repo"] == CHARTS[release.inputs["name"]].repository


@pytest.mark.parametrize("env", ENVS)
def test_calico_ip_pool_matches_the_pod_subnet(declared, env):
    spec, _, recording = declared[env]
    (installation,) = objects(recording, "Installation")
    pool = installation["spec"]["calicoNetwork"]["ipPools"][0]
    assert pool["cidr"] == spec.cluster.pod_subnet
    assert pool["encapsulation"] == spec.network.encapsulation.value
    assert installation["spec"]["calicoNetwork"]["mtu"] == spec.network.mtu


def test_prod_argocd_is_highly_available_and_dev_is_not(declared):
    values = {env: _release(declared[env][2], "argo-cd")["values"] for env in ("dev", "prod")}
    assert values["prod"]["redis-ha"]["enabled"] is True
    assert values["prod"]["server"]["replicas"] == 2
    assert "redis-ha" not in values["dev"]
    assert values["dev"]["server"]["replicas"] == 1


def test_sync_policy_prunes_in_dev_but_never_automatically_in_prod(declared):
    policies = {}
    for env in ("dev", "prod"):
        (appset,) = objects(declared[env][2], "ApplicationSet")
        policies[env] = appset["spec"]["template"]["spec"]["syncPolicy"]["automated"]
    assert policies["dev"] == {"prune": True, "selfHeal": True}
    assert policies["prod"] == {"prune": False, "selfHeal": True}


@pytest.mark.parametrize("env", ENVS)
def test_app_project_keeps_apps_in_their_namespaces(declared, env):
    spec, _, recording = declared[env]
    (project,) = objects(recording, "AppProject")
    assert project["metadata"]["name"] == f"meridian-{env}"
    assert project["spec"]["clusterResourceWhitelist"] == []
    assert {d["namespace"] for d in project["spec"]["destinations"]} == set(spec.apps)
    assert project["spec"]["sourceRepos"] == [spec.argocd.repo_url]
    (appset,) = objects(recording, "ApplicationSet")
    assert appset["spec"]["template"]["spec"]["project"] == f"meridian-{env}"
    assert appset["spec"]["generators"][0]["git"]["directories"] == [{"path": f"environments/{env}/apps/*"}]


def test_existing_clusters_get_the_kube_proxy_patch_and_dev_does_not(declared):
    assert [d.type for d in declared["prod"][2].patches()] == [
        "kubernetes:apps/v1:DaemonSetPatch",
        "kubernetes:core/v1:ConfigMapPatch",
    ]
    assert declared["dev"][2].patches() == []


def test_dev_on_a_machine_with_a_container_runtime_declares_a_kind_cluster(repo_root):
    spec = load_environment(repo_root / "environments", "dev")
    _, recording = record_platform(spec, ClusterAccess(kubeconfig=None, container_runtime=True))
    (kind,) = recording.of_type("pulumi-python:dynamic:Resource")
    assert kind.name == "kind"
    assert "disableDefaultCNI: true" in kind.inputs["config"]


def test_every_kubernetes_object_goes_through_the_one_explicit_provider(declared):
    _, _, recording = declared["dev"]
    providers = recording.of_type("pulumi:providers:kubernetes")
    assert [p.name for p in providers] == ["cluster"]


@pytest.mark.parametrize("env", ENVS)
def test_kubeconfig_and_generated_passwords_are_secret(repo_root, env):
    spec = load_environment(repo_root / "environments", env)
    seen: dict[str, bool] = {}

    def program():
        platform = declare_platform(
            spec,
            ClusterAccess(kubeconfig="apiVersion: v1"),
            probe_charts=False,
            secrets=offline_secrets(spec),
        )

        async def secretness():
            seen["kubeconfig"] = await platform.cluster.kubeconfig.is_secret()
            seen["argocd admin password"] = await platform.argocd.admin_password.is_secret()
            seen["grafana admin password"] = await platform.observability.grafana_admin_password.is_secret()

        return asyncio.ensure_future(secretness())

    run_offline(program, stack=env)
    assert seen == {"kubeconfig": True, "argocd admin password": True, "grafana admin password": True}


class _CountingMocks(RecordingMocks):
    """Mocks that note every resource the program asks the engine to create."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[str] = []

    def new_resource(self, args):
        self.created.append(f"{args.typ}::{args.name}")
        return super().new_resource(args)


def test_a_malformed_spec_stops_the_program_before_any_resource(tmp_path, repo_root):
    (tmp_path / "environments" / "dev").mkdir(parents=True)
    text = (repo_root / "environments/dev/platform.yaml").read_text().replace("mtu: 1450", "mtu: huge")
    (tmp_path / "environments" / "dev" / "platform.yaml").write_text(text)
    mocks = _CountingMocks()
    with pytest.raises(SystemExit) as exited:
        run_with_mocks(lambda: run(tmp_path), mocks, stack="dev")
    assert exited.value.code == 1
    assert mocks.created == []  # the spec is checked before anything is declared
    # The same counting sees the program's resources when the spec is sound: the empty list above
    # means nothing was declared, not that nothing was counted.
    spec = load_environment(repo_root / "environments", "dev")
    good = _CountingMocks()
    access = ClusterAccess(kubeconfig=OFFLINE_KUBECONFIG)

    def declare() -> None:
        declare_platform(spec, access, probe_charts=False, secrets=offline_secrets(spec))

    run_with_mocks(declare, good, stack="dev")
    assert any(name.startswith("kubernetes:core/v1:Namespace::") for name in good.created)


def test_local_cluster_without_a_running_control_plane_says_how_to_start_it(repo_root):
    spec = load_environment(repo_root / "environments", "dev")
    with pytest.raises(ClusterUnavailable, match="meridian cluster up --local"):
        record_platform(spec, ClusterAccess(kubeconfig=None, container_runtime=False))


def _release(recording, name):
    (release,) = [r.inputs for r in recording.helm_releases() if r.inputs["name"] == name]
    return release


def _selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _egress_allows(policies, pod_labels, address, port):
    """Whether any egress rule of the namespace's policies lets a pod with `pod_labels` reach
    address:port outside the cluster's pods (ipBlock peers only), as a NetworkPolicy engine judges it."""
    for policy in policies:
        spec = policy["spec"]
        if "Egress" not in spec.get("policyTypes", []) or not _selects(spec["podSelector"], pod_labels):
            continue
        for rule in spec.get("egress", []):
            ports = rule.get("ports")
            if ports and not any(p.get("port") == port for p in ports):
                continue
            peers = rule.get("to")
            if peers is None:
                return True
            target = ipaddress.ip_address(address)
            for block in (peer["ipBlock"] for peer in peers if "ipBlock" in peer):
                excepted = any(target in ipaddress.ip_network(e) for e in block.get("except", []))
                if target in ipaddress.ip_network(block["cidr"]) and not excepted:
                    return True
    return False


@pytest.mark.parametrize("env", ENVS)
def test_platform_controllers_reach_the_api_server_and_no_other_host_on_443(declared, env):
    spec, _, recording = declared[env]
    api_server = str(next(ipaddress.ip_network(spec.network.api_server_cidrs[0]).hosts()))
    elsewhere = "203.0.113.10"  # a documentation address: any host outside the spec's ranges
    for namespace in ("argocd", "vault", "monitoring"):
        policies = objects(recording, "NetworkPolicy", namespace)
        controller = {"app.kubernetes.io/name": f"{namespace}-controller"}
        assert _egress_allows(policies, controller, api_server, 443), namespace
        assert _egress_allows(policies, controller, api_server, 6443), namespace
        assert not _egress_allows(policies, controller, elsewhere, 443), namespace
        assert not _egress_allows(policies, controller, elsewhere, 6443), namespace


def test_only_argo_cds_repo_server_reaches_git_hosts(declared):
    _, _, recording = declared["prod"]
    policies = objects(recording, "NetworkPolicy", "argocd")
    assert _egress_allows(policies, {"app.kubernetes.io/name": "argocd-repo-server"}, "203.0.113.10", 443)
    assert not _egress_allows(
        policies, {"app.kubernetes.io/name": "argocd-application-controller"}, "203.0.113.10", 443
    )


@pytest.mark.parametrize("env", ENVS)
def test_only_orders_may_call_inventory_and_the_project_reserves_that_kind(declared, env):
    _, _, recording = declared[env]
    grpc_in = [
        (p["metadata"]["name"], rule)
        for p in objects(recording, "NetworkPolicy", "inventory")
        for rule in p["spec"].get("ingress", [])
        if any(port["port"] == 50051 for port in rule.get("ports", []))
    ]
    assert [name for name, _ in grpc_in] == ["allow-ingress-from-orders"]
    (peer,) = grpc_in[0][1]["from"]
    assert peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "orders"}}
    (project,) = objects(recording, "AppProject")
    reserved = project["spec"]["namespaceResourceBlacklist"]
    assert {"group": "networking.k8s.io", "kind": "NetworkPolicy"} in reserved


@pytest.mark.parametrize("env", ENVS)
def test_every_chart_installs_into_a_namespace_the_program_declares_and_waits_for(declared, env):
    # Charts.release makes each release depend on its namespace, found by name among these.
    spec, platform, _ = declared[env]
    assert {pin.namespace for pin in CHARTS.values()} <= set(platform.namespaces.namespaces)
    assert set(platform.namespaces.namespaces) == set(spec.apps) | set(spec.platform_namespaces)
