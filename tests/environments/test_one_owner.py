"""Changing an app's size or calls is one edit in one file, and `meridian render ENV` follows it.

An app's replicas, autoscaling bounds and resources in an environment are written once, in its
overlay's settings.yaml: Argo CD applies them as they are, and the platform program reads them to
size the namespace. The apps an app calls are written once, in its contract (apps/<app>/app.yaml):
the platform's network policies follow. Each test edits that one file in a scratch checkout, runs
`meridian render dev` (the real command, charts and all), and compares every rendered object with
the render before the edit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from meridian_core.yamlio import load_all

APPS = ("inventory", "orders")
Key = tuple[str, str, str, str]  # rendered file, kind, namespace, name


def scratch_checkout(repo_root: Path, dest: Path) -> Path:
    """What `meridian render` reads: the environments, the apps' contracts and bases; the policies
    (chart exemptions) and built tools linked."""
    dest.mkdir(parents=True)
    shutil.copy2(repo_root / "Pulumi.yaml", dest / "Pulumi.yaml")
    shutil.copytree(repo_root / "environments", dest / "environments")
    for app in APPS:
        shutil.copytree(repo_root / "apps" / app / "deploy", dest / "apps" / app / "deploy")
        shutil.copy2(repo_root / "apps" / app / "app.yaml", dest / "apps" / app / "app.yaml")
    (dest / "policies").symlink_to(repo_root / "policies")
    (dest / "bin").symlink_to(repo_root / "bin")
    return dest


def render(root: Path) -> dict[Key, dict[str, Any]]:
    """`meridian render dev` run in `root` as a user runs it; every object it wrote, by file, kind,
    namespace and name."""
    result = subprocess.run(
        [sys.executable, "-m", "meridian.cli", "render", "dev"],
        cwd=root,
        env={**os.environ, "MERIDIAN_ROOT": str(root), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    build = root / "build" / "dev"
    objects = {}
    for path in sorted(build.rglob("*.yaml")):
        for obj in load_all(path.read_text()):
            metadata = obj.get("metadata", {})
            key = (str(path.relative_to(build)), obj["kind"], metadata.get("namespace", ""), metadata["name"])
            assert key not in objects, key
            objects[key] = obj
    return objects


def changed(before: dict[Key, Any], after: dict[Key, Any]) -> set[Key]:
    return {
        key for key in before.keys() | after.keys() if _steady(before.get(key)) != _steady(after.get(key))
    }


def _steady(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The object without what differs between any two renders: the Argo CD chart stamps the admin
    password's mtime with the time it is rendered."""
    if obj is None or (obj["kind"], obj["metadata"]["name"]) != ("Secret", "argocd-secret"):
        return obj
    return {**obj, "stringData": {k: v for k, v in obj["stringData"].items() if k != "admin.passwordMtime"}}


@pytest.fixture(scope="module")
def baseline(repo_root, tmp_path_factory) -> dict[Key, dict[str, Any]]:
    return render(scratch_checkout(repo_root, tmp_path_factory.mktemp("baseline") / "repo"))


@pytest.mark.slow  # the baseline and this render, of dev with every chart
def test_an_apps_size_is_one_edit_of_its_settings_and_the_render_follows(repo_root, tmp_path, baseline):
    root = scratch_checkout(repo_root, tmp_path / "repo")
    settings = root / "environments" / "dev" / "apps" / "orders" / "settings.yaml"
    text = settings.read_text()
    for old, new in (
        ("cpu: 50m", "cpu: 100m"),
        ('cpu: "250m"', 'cpu: "400m"'),
        ("maxReplicas: 2", "maxReplicas: 6"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    settings.write_text(text)

    after = render(root)

    deployment = ("apps/orders.yaml", "Deployment", "orders", "orders")
    autoscaler = ("apps/orders.yaml", "HorizontalPodAutoscaler", "orders", "orders")
    quota = ("platform/namespaces.yaml", "ResourceQuota", "orders", "compute")
    limits = ("platform/namespaces.yaml", "LimitRange", "orders", "container-defaults")
    assert changed(baseline, after) == {deployment, autoscaler, quota, limits}
    (container,) = [
        c for c in after[deployment]["spec"]["template"]["spec"]["containers"] if c["name"] == "orders"
    ]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"cpu": "400m", "memory": "128Mi"},
    }
    assert after[autoscaler]["spec"]["maxReplicas"] == 6
    # 6 replicas and a rolling update's surge of 2 pods, each with the app (100m/64Mi, 400m/128Mi)
    # and its Vault Agent (10m/32Mi, 50m/64Mi).
    assert after[quota]["spec"]["hard"] == {
        "pods": "8",
        "requests.cpu": "880m",
        "requests.memory": "768Mi",
        "limits.cpu": "3600m",
        "limits.memory": "1536Mi",
    }
    assert baseline[quota]["spec"]["hard"]["pods"] == "3"
    assert after[limits]["spec"]["limits"][0]["max"] == {"cpu": "400m", "memory": "128Mi"}


@pytest.mark.slow
def test_an_apps_calls_are_one_edit_of_its_contract_and_the_network_policies_follow(
    repo_root, tmp_path, baseline
):
    root = scratch_checkout(repo_root, tmp_path / "repo")
    contract = root / "apps" / "inventory" / "app.yaml"
    assert contract.read_text().count("calls: []") == 1
    contract.write_text(contract.read_text().replace("calls: []", "calls: [orders]"))

    after = render(root)

    let_in = ("platform/namespaces.yaml", "NetworkPolicy", "orders", "allow-ingress-from-inventory")
    let_out = ("platform/namespaces.yaml", "NetworkPolicy", "inventory", "allow-egress-to-orders")
    differences = changed(baseline, after)
    assert {let_in, let_out} <= differences
    assert let_in not in baseline and let_out not in baseline
    # Beside the two policies only the admission webhook's copy of the environment changes: OPA judges
    # with the environment's namespaces and network policies in view (policy_webhook.py).
    assert {key[0] for key in differences - {let_in, let_out}} <= {"platform/policywebhook.yaml"}
    assert not [key for key in differences if key[0].startswith("apps/")]
    (rule,) = after[let_in]["spec"]["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "inventory"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "inventory"}},
        }
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 50051}]  # orders' ports.grpc
    assert after[let_in]["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "orders"}}


def test_a_patch_that_sizes_the_app_beside_settings_is_refused_by_the_render(repo_root, tmp_path):
    # The platform reads settings.yaml alone; a render that says otherwise would run pods the
    # namespace's quota was not sized for.
    from meridian_core.errors import InputError  # noqa: PLC0415
    from meridian_core.layout import Repo  # noqa: PLC0415
    from meridian_infra.spec import load_environment  # noqa: PLC0415

    from meridian.render.apps import render_apps  # noqa: PLC0415

    root = scratch_checkout(repo_root, tmp_path / "repo")
    overlay = root / "environments" / "dev" / "apps" / "orders"
    (overlay / "more-replicas.yaml").write_text(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: orders\n"
        "spec:\n  maxReplicas: 9\n"
    )
    kustomization = overlay / "kustomization.yaml"
    kustomization.write_text(
        kustomization.read_text().replace(
            "  - path: version.yaml\n", "  - path: version.yaml\n  - path: more-replicas.yaml\n"
        )
    )
    spec = load_environment(root / "environments", "dev")
    with pytest.raises(InputError) as refused:
        render_apps(Repo(root), "dev", tmp_path / "out", spec)
    assert (
        "environments/dev/apps/orders does not render what the platform read of orders"
        in refused.value.message
    )
    assert (
        "renders maxReplicas 9, but environments/dev/apps/orders/settings.yaml says 2"
        in refused.value.message
    )
    # The same overlay without the extra patch renders.
    kustomization.write_text(kustomization.read_text().replace("  - path: more-replicas.yaml\n", ""))
    assert len(render_apps(Repo(root), "dev", tmp_path / "out", spec)) == len(APPS)


def test_a_call_to_an_app_that_does_not_run_stops_the_render_at_the_contracts_line(
    repo_root, tmp_path, meridian_cli
):
    root = scratch_checkout(repo_root, tmp_path / "repo")
    contract = root / "apps" / "orders" / "app.yaml"
    contract.write_text(contract.read_text().replace("calls: [inventory]", "calls: [inventroy]"))
    line = next(n for n, text in enumerate(contract.read_text().splitlines(), 1) if text.startswith("calls:"))
    result = meridian_cli("render", "dev", cwd=root, env={"MERIDIAN_ROOT": str(root)})
    assert result.returncode == 2, result.stdout + result.stderr
    output = " ".join(result.stderr.split())
    assert f"{contract}:{line}: calls.0: names 'inventroy', which does not run in this environment" in output
    assert not (root / "build").exists()
