"""The apps' Kustomize overlays agree with the environment specs they run under."""

from __future__ import annotations

import subprocess

import pytest
from meridian_core.quantity import parse
from meridian_infra.namespaces import VAULT_AGENT
from meridian_infra.spec import load_environment
from ruamel.yaml import YAML

ENVS = ["dev", "staging", "prod"]
APPS = ["orders", "inventory"]


@pytest.fixture(scope="module")
def rendered(repo_root):
    """kustomize build of every overlay, as {(env, app): {(kind, name): object}}."""
    kustomize = repo_root / "bin" / "kustomize"
    result = {}
    for env in ENVS:
        for app in APPS:
            text = subprocess.run(
                [kustomize, "build", repo_root / "environments" / env / "apps" / app],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            docs = list(YAML(typ="safe").load_all(text))
            result[env, app] = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    return result


def _deployment(objects, app):
    return objects["Deployment", app]


@pytest.mark.parametrize("env", ENVS)
def test_every_spec_app_has_an_overlay_and_no_overlay_lacks_an_app(repo_root, env):
    spec = load_environment(repo_root / "environments", env)
    overlays = {p.name for p in (repo_root / "environments" / env / "apps").iterdir() if p.is_dir()}
    assert overlays == set(spec.apps)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("app", APPS)
def test_overlay_renders_everything_a_service_needs(rendered, env, app):
    kinds = {kind for kind, _ in rendered[env, app]}
    assert {
        "Deployment",
        "Service",
        "ServiceAccount",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
        "ConfigMap",
    } <= kinds
    headless = rendered[env, app]["Service", f"{app}-headless"]
    assert headless["spec"]["clusterIP"] == "None"
    assert all(obj["metadata"]["namespace"] == app for obj in rendered[env, app].values())


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("app", APPS)
def test_overlay_fits_the_quota_and_limits_the_platform_sizes(repo_root, rendered, env, app):
    spec = load_environment(repo_root / "environments", env)
    size = spec.sizes[spec.apps[app].size]
    container = _deployment(rendered[env, app], app)["spec"]["template"]["spec"]["containers"][0]
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert parse(str(limits["cpu"])) <= parse(size.cpu_limit)
    assert parse(limits["memory"]) <= parse(size.memory_limit)
    assert parse(str(requests["cpu"])) >= parse(size.cpu_request)
    assert parse(requests["memory"]) >= parse(size.memory_request)
    hpa = rendered[env, app]["HorizontalPodAutoscaler", app]
    assert hpa["spec"]["maxReplicas"] <= spec.apps[app].max_replicas


@pytest.mark.parametrize("app", APPS)
def test_prod_runs_at_least_two_replicas_and_dev_one(rendered, app):
    assert _deployment(rendered["prod", app], app)["spec"]["replicas"] >= 2
    assert rendered["prod", app]["HorizontalPodAutoscaler", app]["spec"]["minReplicas"] >= 2
    assert _deployment(rendered["dev", app], app)["spec"]["replicas"] == 1


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("app", APPS)
def test_the_image_tag_and_the_version_label_agree(rendered, env, app):
    template = _deployment(rendered[env, app], app)["spec"]["template"]
    image = template["spec"]["containers"][0]["image"]
    version = template["metadata"]["labels"]["app.kubernetes.io/version"]
    repository, _, rest = image.partition(":")
    assert repository == f"ghcr.io/meridian-platform/{app}"
    tag, _, digest = rest.partition("@")
    assert tag == version
    assert digest.startswith("sha256:") and len(digest) == 71


@pytest.mark.parametrize("app", APPS)
def test_quota_sidecar_allowance_matches_the_vault_agent_annotations(rendered, app):
    annotations = _deployment(rendered["dev", app], app)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["vault.hashicorp.com/agent-requests-cpu"] == VAULT_AGENT.cpu_request
    assert annotations["vault.hashicorp.com/agent-requests-mem"] == VAULT_AGENT.memory_request
    assert annotations["vault.hashicorp.com/agent-limits-cpu"] == VAULT_AGENT.cpu_limit
    assert annotations["vault.hashicorp.com/agent-limits-mem"] == VAULT_AGENT.memory_limit


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("app", APPS)
def test_no_overlay_brings_its_own_network_policy(rendered, env, app):
    # The platform declares every app's policies from the spec; Argo CD's project refuses the kind.
    assert "NetworkPolicy" not in {kind for kind, _ in rendered[env, app]}
