"""The apps' Kustomize overlays agree with the environments they run in: each renders what the
platform read of it, and what the platform alone owns stays out of them."""

from __future__ import annotations

import subprocess

import pytest
from meridian_infra import sizing
from meridian_infra.spec import load_environment
from meridian_infra.spec.conformance import rendered_app_problems
from meridian_infra.vault.release import helm_values
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


def test_every_app_that_runs_somewhere_has_a_contract_and_every_contract_an_app(repo_root):
    running = {p.name for env in ENVS for p in (repo_root / "environments" / env / "apps").iterdir()}
    contracts = {p.parent.name for p in (repo_root / "apps").glob("*/app.yaml")}
    assert running == contracts == set(APPS)


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
def test_overlay_renders_the_sizing_and_contract_the_platform_read(repo_root, rendered, env, app):
    # The platform sizes the namespace from settings.yaml without Kustomize: the render must agree.
    spec = load_environment(repo_root / "environments", env)
    assert rendered_app_problems(env, app, spec.apps[app], rendered[env, app].values()) == []


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


@pytest.mark.parametrize("env", ENVS)
def test_the_vault_agent_is_sized_by_the_platform_alone(repo_root, rendered, env):
    # The injector gives every agent what each app's quota counts for it; no pod says otherwise.
    spec = load_environment(repo_root / "environments", env)
    defaults = helm_values(spec, "")["injector"]["agentDefaults"]
    assert defaults == {
        "cpuRequest": sizing.VAULT_AGENT.cpu_request,
        "cpuLimit": sizing.VAULT_AGENT.cpu_limit,
        "memRequest": sizing.VAULT_AGENT.memory_request,
        "memLimit": sizing.VAULT_AGENT.memory_limit,
    }
    for app in APPS:
        annotations = _deployment(rendered[env, app], app)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["vault.hashicorp.com/agent-inject"] == "true"
        sized = [k for k in annotations if k.split("/")[-1].startswith(("agent-requests-", "agent-limits-"))]
        assert sized == [], f"{app} sizes its Vault Agent itself"


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("app", APPS)
def test_no_overlay_says_where_its_database_is(rendered, env, app):
    # The platform's ConfigMap `database` in the namespace does (infra/meridian_infra/databases.py).
    data = {
        k: v for o in rendered[env, app].values() if o["kind"] == "ConfigMap" for k, v in o["data"].items()
    }
    assert not {"DB_HOST", "DB_PORT", "DB_NAME", "DB_SSLMODE"} & set(data)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("app", APPS)
def test_no_overlay_brings_its_own_network_policy(rendered, env, app):
    # The platform declares every app's policies from the spec; Argo CD's project refuses the kind.
    assert "NetworkPolicy" not in {kind for kind, _ in rendered[env, app]}
