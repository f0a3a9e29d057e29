"""staging and prod through the real engine and the real charts: their HA shapes cannot be installed on
the local control plane, but `meridian preview` against it, as their "existing" cluster, must succeed.

The stacks get what their operators would give them: a passphrase (made for this run), the cluster's
kubeconfig, the Vault seal's settings, the alert receivers' URLs and, for prod, Loki's object storage.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
from collections.abc import Iterator

import pytest
from meridian_core.layout import Repo
from meridian_infra.charts import CHARTS
from support.chart_archives import pinned_charts_source
from support.engine_project import Project, make_project_root, output
from support.local_cluster import free_port_base

from meridian.environments import load_spec

pytestmark = pytest.mark.slow

# Settings no preview sends anywhere: receivers on a loopback port nothing serves, a seal body that
# only reaches the rendered Vault config, storage credentials made for this run.
SEALS = {
    "transit": 'address = "https://127.0.0.1:8200"\nkey_name = "meridian"\n',
    "awskms": 'kms_key_id = "meridian"\n',
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = make_project_root(tmp_path_factory.mktemp("shared-previews"))
    made = Project(
        root,
        root / "cluster",
        free_port_base(),
        pinned_charts_source(),
        extra_env={"PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24)},
    )
    started = made.meridian("cluster", "up", "--local")
    assert started.returncode == 0, output(started)
    yield made
    for pid in made.plugin_processes():
        os.kill(pid, signal.SIGKILL)
    made.meridian("cluster", "down", "--local", "--purge")


def configure(project: Project, env: str) -> None:
    spec = load_spec(Repo(project.root), env)
    (project.root / ".meridian" / "state").mkdir(parents=True, exist_ok=True)  # as `meridian` makes it
    created = project.pulumi("stack", "init", "--secrets-provider", "passphrase", stack=env)
    assert created.returncode == 0, output(created)
    settings: list[tuple[str, str]] = [
        ("meridian:kubeconfig", (project.cluster_dir / "kubeconfig").read_text()),
        ("meridian:vaultSeal", SEALS[spec.vault.seal.value]),
        (
            "meridian:alertReceivers",
            json.dumps({r.receiver: "http://127.0.0.1:9/alerts" for r in spec.observability.alert_routes}),
        ),
    ]
    if spec.observability.loki.mode.value == "simpleScalable":
        storage = {
            "endpoint": "https://127.0.0.1:9000",
            "region": "local",
            "accessKeyId": secrets.token_hex(8),
            "secretAccessKey": secrets.token_urlsafe(24),
        }
        settings.append(("meridian:lokiObjectStorage", json.dumps(storage)))
    for key, value in settings:
        # An object setting is its JSON text: the program reads it with get_object.
        done = project.pulumi("config", "set", "--secret", key, stack=env, stdin=value)
        assert done.returncode == 0, output(done)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_a_shared_environment_previews_against_the_local_control_plane_with_every_chart(project, env):
    configure(project, env)
    previewed = project.meridian("preview", env)
    assert previewed.returncode == 0, output(previewed)
    assert "skipping it" not in previewed.stdout + previewed.stderr, output(previewed)
    # Every pinned chart is a release the preview would create (the diff names each by its URN).
    missing = [n for n in CHARTS if f"kubernetes:helm.sh/v3:Release::{n}]" not in previewed.stdout]
    assert not missing, f"no release previewed for {missing}\n{output(previewed)}"
