"""Vault: the Helm release (dev mode in dev; HA on Raft with TLS elsewhere) with the Agent injector.

The injector puts a Vault Agent beside each app container; it logs in with the pod's service account
(Kubernetes auth) and writes the app's database credentials to /vault/secrets. What Vault itself
holds — mounts, auth roles, policies, database roles — is declared by `configuration.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from meridian_infra import admission, sizing
from meridian_infra.helm import Charts
from meridian_infra.objects import Manifest, declare, manifest, restricted_container
from meridian_infra.spec.models import EnvironmentSpec, SealType, VaultMode
from meridian_infra.vault.certificates import (
    SERVER_SECRET,
    SERVER_TLS_DIR,
    VaultCertificates,
    ca_secret,
    server_names,
    server_secret,
)

NAMESPACE = "vault"
# Dev mode serves plain HTTP only (the server's -dev flag); everywhere else Vault speaks TLS.
DEV_ADDRESS = f"http://vault.{NAMESPACE}.svc:8200"
TLS_ADDRESS = f"https://vault.{NAMESPACE}.svc:8200"
SERVICE_ADDRESS = DEV_ADDRESS


def service_address(spec: EnvironmentSpec) -> str:
    return DEV_ADDRESS if spec.vault.mode is VaultMode.DEV else TLS_ADDRESS


# Dev mode's root token reaches the server from this Secret, never as a literal in the pod spec.
DEV_ROOT_TOKEN_SECRET = "vault-dev-root-token"  # noqa: S105 - names, not the token
DEV_ROOT_TOKEN_KEY = "token"  # noqa: S105
DEV_ROOT_TOKEN_ENV = "MERIDIAN_DEV_ROOT_TOKEN"  # noqa: S105
DEV_ROOT_EXEMPTION = (
    "expires=2027-06-30; reason=generated at deploy time (random, kept in the stack's encrypted "
    "state) for dev mode only; the render holds a placeholder, never the token"
)


def dev_root_token_secret(token: pulumi.Input[str]) -> Manifest:
    return manifest(
        "v1",
        "Secret",
        DEV_ROOT_TOKEN_SECRET,
        NAMESPACE,
        annotations={"exemption.meridian.dev/MER-SEC-001": DEV_ROOT_EXEMPTION},
        type="Opaque",
        string_data={DEV_ROOT_TOKEN_KEY: token},  # the typed class takes it snake_case
    )


def tls_listener(
    address: str = "[::]:8200", cluster_address: str = "[::]:8201", tls_dir: str = SERVER_TLS_DIR
) -> str:
    """The API listener with the platform's server certificate (certificates.py)."""
    return (
        'listener "tcp" {\n'
        f'  address = "{address}"\n  cluster_address = "{cluster_address}"\n'
        f'  tls_cert_file = "{tls_dir}/tls.crt"\n  tls_key_file = "{tls_dir}/tls.key"\n'
        '  tls_min_version = "tls12"\n}\n'
    )


def raft_config(spec: EnvironmentSpec, seal_stanza: str) -> str:
    """Vault's server HCL for Raft: every replica retries joining the others by their stable DNS names,
    over TLS, trusting only the platform's CA."""
    joins = "\n".join(
        f'    retry_join {{\n      leader_api_addr = "https://vault-{i}.vault-internal:8200"\n'
        f'      leader_ca_cert_file = "{SERVER_TLS_DIR}/ca.crt"\n    }}'
        for i in range(spec.vault.replicas)
    )
    return (
        "ui = true\n" + tls_listener() + 'storage "raft" {\n  path = "/vault/data"\n' + joins + "\n}\n"
        'service_registration "kubernetes" {}\n' + seal_stanza
    )


# The chart's defaults (uid 100, gid 1000), restated whole: a non-empty value replaces them.
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 100,
    "runAsGroup": 1000,
    "fsGroup": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
# Alive while it answers at all: sealed, uninitialised and standby servers are alive too, so the
# probe never restarts a server waiting to be unsealed.
LIVENESS_PATH = "/v1/sys/health?standbyok=true&sealedcode=204&uninitcode=204"


def helm_values(spec: EnvironmentSpec, server_config: pulumi.Input[str]) -> dict[str, Any]:
    ha = spec.vault.mode is VaultMode.HA
    security = {"pod": POD_SECURITY, "container": restricted_container()}
    values: dict[str, Any] = {
        "global": {"enabled": True},
        "injector": {
            "enabled": True,
            "replicas": 2 if ha else 1,
            "leaderElector": {"enabled": ha},
            "metrics": {"enabled": True},
            "resources": sizing.resources(sizing.CONTROLLER),
            "securityContext": security,
            # Every agent's requests and limits: the apps' quotas count the same (namespaces.py).
            "agentDefaults": {
                "cpuRequest": sizing.VAULT_AGENT.cpu_request,
                "cpuLimit": sizing.VAULT_AGENT.cpu_limit,
                "memRequest": sizing.VAULT_AGENT.memory_request,
                "memLimit": sizing.VAULT_AGENT.memory_limit,
            },
            # Only app pods get an agent; the cluster's side of a call that gets no answer is
            # decided per environment (admission.py).
            "webhook": {
                "failurePolicy": admission.failure_policy(spec),
                "namespaceSelector": admission.app_namespaces_only(),
            },
        },
        "server": {
            "dataStorage": {"enabled": ha, "size": spec.vault.storage},
            "auditStorage": {"enabled": ha, "size": spec.vault.storage},
            "resources": sizing.resources(sizing.vault_server_size(ha)),
            "statefulSet": {"securityContext": security},
            "livenessProbe": {"enabled": True, "path": LIVENESS_PATH},
            # The root filesystem is read-only; the start script writes its config to /tmp.
            "volumes": [{"name": "tmp", "emptyDir": {}}],
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - a pod's own emptyDir
        },
        "ui": {"enabled": True},
        "csi": {"enabled": False},
    }
    if ha:
        # The chart then points the injector, every agent and its own probes at https://.
        values["global"]["tlsDisable"] = False
        values["server"]["volumes"].append({"name": "tls", "secret": {"secretName": SERVER_SECRET}})
        values["server"]["volumeMounts"].append(
            {"name": "tls", "mountPath": SERVER_TLS_DIR, "readOnly": True}
        )
        # The vault CLI inside the pod (the chart's readiness probe, operators' `vault operator …`).
        values["server"]["extraEnvironmentVars"] = {"VAULT_CACERT": f"{SERVER_TLS_DIR}/ca.crt"}
        values["server"]["ha"] = {
            "enabled": True,
            "replicas": spec.vault.replicas,
            "raft": {"enabled": True, "setNodeId": True, "config": server_config},
        }
    else:
        # The chart would put devRootToken into the pod spec as a literal; it stays empty and the
        # server reads the token from the Secret through an env var given to its -dev flag.
        values["server"]["dev"] = {"enabled": True, "devRootToken": ""}
        values["server"]["extraSecretEnvironmentVars"] = [
            {
                "envName": DEV_ROOT_TOKEN_ENV,
                "secretName": DEV_ROOT_TOKEN_SECRET,
                "secretKey": DEV_ROOT_TOKEN_KEY,
            }
        ]
        values["server"]["extraArgs"] = f'-dev-root-token-id="${DEV_ROOT_TOKEN_ENV}"'
    return values


class SealNotConfigured(ValueError):
    def __init__(self, seal: SealType) -> None:
        super().__init__(
            f"vault.seal is {seal.value}: set its settings with "
            "`pulumi config set --secret meridian:vaultSeal '<HCL body of the seal block>'`"
        )


def seal_stanza(seal: SealType, settings: str) -> str:
    """The auto-unseal seam: a `seal "<type>" { … }` block whose body comes from the stack's secrets."""
    if seal is SealType.SHAMIR:
        return ""
    if not settings.strip():
        raise SealNotConfigured(seal)
    return f'seal "{seal.value}" {{\n{settings.strip()}\n}}\n'


def server_config(spec: EnvironmentSpec, seal_settings: pulumi.Input[str] | None) -> pulumi.Input[str]:
    if spec.vault.mode is VaultMode.DEV:
        return ""
    if spec.vault.seal is SealType.SHAMIR:
        return raft_config(spec, "")
    if seal_settings is None:
        raise SealNotConfigured(spec.vault.seal)
    with_seal = pulumi.Output.from_input(seal_settings).apply(
        lambda settings: raft_config(spec, seal_stanza(spec.vault.seal, settings))
    )
    return pulumi.Output.secret(with_seal)


class VaultRelease(pulumi.ComponentResource):
    def __init__(
        self,
        spec: EnvironmentSpec,
        charts: Charts,
        namespace: pulumi.Resource,
        *,
        seal_settings: pulumi.Input[str] | None,
        dev_root_token: pulumi.Input[str],
        app_namespaces: Mapping[str, pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("meridian:platform:Vault", "vault", None, opts)
        values = helm_values(spec, server_config(spec, seal_settings))
        needs: list[pulumi.Resource] = [namespace]
        # The CA certificate clients verify Vault with; empty in dev, which serves plain HTTP.
        self.ca_cert: pulumi.Input[str] = ""
        if spec.vault.mode is VaultMode.DEV:
            needs.append(
                declare(
                    dev_root_token_secret(dev_root_token),
                    pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
                )
            )
        else:
            certs = VaultCertificates(
                "vault-tls", server_names(NAMESPACE, spec.vault.replicas), pulumi.ResourceOptions(parent=self)
            )
            self.ca_cert = certs.tls_ca_cert
            needs.append(
                declare(
                    server_secret(NAMESPACE, certs),
                    pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
                )
            )
            for app, app_namespace in (app_namespaces or {}).items():
                declare(
                    ca_secret(app, certs), pulumi.ResourceOptions(parent=self, depends_on=[app_namespace])
                )
        self.release = charts.release("vault", values, parent=self, depends_on=needs)
        self.address = service_address(spec)
        self.register_outputs({"address": self.address})
