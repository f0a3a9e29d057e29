"""What `pulumi up` runs: read the stack's config and spec, then declare the platform.

The stack holds only what is secret or machine-local (kubeconfig, context); everything else is in
the environment spec, in git.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pulumi
from meridian_core.layout import PROJECT_FILE, Repo

from meridian_infra.cluster import ClusterAccess, ClusterUnavailable, decide_type
from meridian_infra.helm import ChartUnavailable
from meridian_infra.observability.stack import GrafanaNotShared, LokiStorageNotConfigured
from meridian_infra.policy_webhook import PolicyWebhookNotConfigured
from meridian_infra.program import StackSecrets, declare_platform, export_outputs
from meridian_infra.spec import SpecError, load_environment
from meridian_infra.spec.models import ClusterType
from meridian_infra.vault.release import SealNotConfigured
from meridian_infra.vault.settings import VaultSettingsError, read_vault_connection

REPO_ROOT = Path(__file__).resolve().parents[2]


def project_root() -> Path:
    """The Pulumi project being run: the engine starts the program in its `main` folder, so the
    nearest folder above the working directory that holds Pulumi.yaml; else this checkout."""
    here = Path.cwd().resolve()
    return next((p for p in (here, *here.parents) if (p / PROJECT_FILE).is_file()), REPO_ROOT)


def local_kubeconfig(root: Path) -> Path:
    """Written by `meridian cluster up --local` (into $MERIDIAN_CLUSTER_DIR when that is set)."""
    return Repo(root).local_kubeconfig


def _entry(secret_object: pulumi.Output[Any], key: str) -> pulumi.Output[str]:
    """One entry of a secret config object, `""` when it has none; the Output stays secret."""

    def pick(found: dict[str, str] | None) -> str:
        return (found or {}).get(key, "")

    return secret_object.apply(pick)


def run(root: Path | None = None) -> None:
    root = root or project_root()
    config = pulumi.Config("meridian")
    env = config.get("environment") or pulumi.get_stack()
    try:
        spec = load_environment(Repo(root).environments_dir, env)
        kubeconfig: pulumi.Input[str] | None = config.get_secret("kubeconfig")
        cluster_type = decide_type(spec.cluster.type)
        local = local_kubeconfig(root)
        if kubeconfig is None and cluster_type is ClusterType.LOCAL and local.is_file():
            kubeconfig = local.read_text()
        access = ClusterAccess(
            kubeconfig=kubeconfig,
            context=config.get("context"),
            container_runtime=cluster_type is ClusterType.KIND,
        )
        # meridian:alertReceivers is a secret object {receiver: webhook URL}.
        receivers = config.get_secret_object("alertReceivers")
        urls = (
            {}
            if receivers is None
            else {
                route.receiver: _entry(receivers, route.receiver) for route in spec.observability.alert_routes
            }
        )
        # meridian:lokiObjectStorage is a secret object {endpoint, region, accessKeyId, secretAccessKey}.
        loki_storage = config.get_object("lokiObjectStorage")
        secrets = StackSecrets(
            vault_seal=config.get_secret("vaultSeal"),
            alert_receivers=urls,
            vault=read_vault_connection(config),
            loki_object_storage=(
                None
                if loki_storage is None
                else {key: pulumi.Output.secret(str(value)) for key, value in loki_storage.items()}
            ),
        )
        export_outputs(declare_platform(spec, access, probe_charts=True, secrets=secrets, root=root))
    except (
        SpecError,
        ClusterUnavailable,
        ChartUnavailable,
        SealNotConfigured,
        VaultSettingsError,
        LokiStorageNotConfigured,
        GrafanaNotShared,
        PolicyWebhookNotConfigured,
    ) as exc:
        # A plain message instead of a Python traceback in `pulumi up`'s diagnostics.
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
