"""The kind config dev's cluster is created from, the one decision of which cluster `auto` means, and
the kube-proxy config for existing clusters."""

import pytest
from meridian_infra import kube_proxy
from meridian_infra.cluster import decide_type
from meridian_infra.kind import kind_config, render_kind_config
from meridian_infra.spec.models import Cluster, ClusterType, IpvsScheduler, Network
from ruamel.yaml import YAML

CLUSTER = Cluster(
    type=ClusterType.KIND,
    pod_subnet="10.244.0.0/16",
    service_subnet="10.96.0.0/16",
    workers=2,
    name="meridian-dev",
)
NETWORK = Network(encapsulation="VXLAN", mtu=1450, ipvs_scheduler="lc", api_server_cidrs=["172.18.0.0/16"])


def test_kind_config_leaves_the_cni_to_calico_and_uses_ipvs():
    config = kind_config(CLUSTER, NETWORK)
    assert config["networking"] == {
        "disableDefaultCNI": True,
        "kubeProxyMode": "ipvs",
        "podSubnet": "10.244.0.0/16",
        "serviceSubnet": "10.96.0.0/16",
    }


def test_kind_config_has_one_control_plane_and_the_spec_worker_count():
    roles = [node["role"] for node in kind_config(CLUSTER, NETWORK)["nodes"]]
    assert roles == ["control-plane", "worker", "worker"]


def test_kind_config_sets_the_ipvs_scheduler_through_a_kubeadm_patch():
    patch = YAML(typ="safe").load(kind_config(CLUSTER, NETWORK)["kubeadmConfigPatches"][0])
    assert patch["kind"] == "KubeProxyConfiguration"
    assert patch["ipvs"] == {"scheduler": "lc", "strictARP": True}


def test_rendered_kind_config_is_yaml_kind_can_read():
    text = render_kind_config(kind_config(CLUSTER, NETWORK))
    assert YAML(typ="safe").load(text)["apiVersion"] == "kind.x-k8s.io/v1alpha4"


def test_kube_proxy_patch_owns_only_config_conf_and_rolls_the_daemonset():
    existing = CLUSTER.model_copy(update={"type": ClusterType.EXISTING, "workers": None})
    config_map, daemon_set = kube_proxy.patches(existing, NETWORK)
    assert list(config_map["data"]) == ["config.conf"]
    config = YAML(typ="safe").load(config_map["data"]["config.conf"])
    assert config["mode"] == "ipvs" and config["ipvs"]["scheduler"] == "lc"
    assert config["clusterCIDR"] == "10.244.0.0/16"
    stamp = daemon_set["spec"]["template"]["metadata"]["annotations"][kube_proxy.CONFIG_HASH_ANNOTATION]
    assert stamp == kube_proxy.config_hash(config_map["data"]["config.conf"])


def test_a_different_scheduler_changes_the_rollout_stamp():
    existing = CLUSTER.model_copy(update={"type": ClusterType.EXISTING, "workers": None})
    _, before = kube_proxy.patches(existing, NETWORK)
    _, after = kube_proxy.patches(
        existing, NETWORK.model_copy(update={"ipvs_scheduler": IpvsScheduler.ROUND_ROBIN})
    )
    assert before != after


@pytest.mark.parametrize(("runtime", "decided"), [(True, ClusterType.KIND), (False, ClusterType.LOCAL)])
def test_auto_is_kind_where_a_container_runtime_answers_else_the_local_control_plane(
    monkeypatch, runtime, decided
):
    # `meridian up` (src/meridian/commands/stack.py) and the program (stack.py) both ask this function.
    monkeypatch.setattr("meridian_infra.kind.container_runtime_available", lambda: runtime)
    assert decide_type(ClusterType.AUTO) is decided
    assert decide_type(ClusterType.AUTO, container_runtime=not runtime) is not decided


@pytest.mark.parametrize("configured", [ClusterType.KIND, ClusterType.LOCAL, ClusterType.EXISTING])
def test_a_cluster_type_named_in_the_spec_is_used_without_asking_for_a_runtime(monkeypatch, configured):
    def probe() -> bool:
        raise AssertionError("the container runtime was probed for a cluster type the spec names")

    monkeypatch.setattr("meridian_infra.kind.container_runtime_available", probe)
    assert decide_type(configured) is configured
