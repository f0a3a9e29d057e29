"""How the program reaches Vault to configure it, read from the stack's config.

Everything here is either secret (the token, the databases' admin passwords) or depends on where
`pulumi up` runs (the address), so it lives in the stack, not in the environment spec:

    meridian:vaultAddress          where Vault answers (default: the in-cluster Service address)
    meridian:vaultCaCert           PEM of the CA that signed that Vault's certificate (default: the
                                   platform's own CA, which signs our release's certificate outside dev)
    meridian:vaultToken            secret; a token with the platform policy of docs/vault.md
    meridian:vaultDatabaseAdmins   secret object {app: {username, password}}: the role Vault logs in
                                   as to create and drop each app's short-lived database users
    meridian:vaultKubernetesApi    optional object {host, caCert, tokenReviewerJwt} for a Vault that
                                   runs outside the cluster whose service accounts log in to it
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from meridian_infra.vault.release import SERVICE_ADDRESS

# What Vault calls to review service-account tokens when it runs inside the cluster; there it also
# finds its own CA certificate and reviewer token in its pod, so nothing else needs setting.
IN_CLUSTER_API = "https://kubernetes.default.svc"


class VaultSettingsError(ValueError):
    """A Vault setting of the stack is missing or malformed; the message says which and how to set it."""


@dataclass(frozen=True)
class DatabaseAdmin:
    """The PostgreSQL role Vault uses to create and drop one app's database users."""

    username: pulumi.Input[str]
    password: pulumi.Input[str]


@dataclass(frozen=True)
class KubernetesApi:
    """The API server Vault asks whether a service-account token is genuine (TokenReview)."""

    host: str = IN_CLUSTER_API
    ca_cert: str = ""  # PEM; empty: Vault uses the CA of its own pod
    token_reviewer_jwt: pulumi.Input[str] = ""  # empty: Vault uses its own pod's token


@dataclass(frozen=True)
class VaultConnection:
    address: str = SERVICE_ADDRESS
    token: pulumi.Input[str] | None = None
    address_given: bool = False  # meridian:vaultAddress is set: Vault may run elsewhere than our release
    ca_cert: pulumi.Input[str] = ""  # PEM the client verifies Vault with; empty: the system's CAs
    database_admins: Mapping[str, DatabaseAdmin] = field(default_factory=dict)
    kubernetes: KubernetesApi = field(default_factory=KubernetesApi)


def read_vault_connection(config: pulumi.Config) -> VaultConnection:
    address = config.get("vaultAddress")
    return VaultConnection(
        address=address or SERVICE_ADDRESS,
        token=config.get_secret("vaultToken"),
        address_given=address is not None,
        ca_cert=config.get("vaultCaCert") or "",
        database_admins=parse_database_admins(config.get_object("vaultDatabaseAdmins")),
        kubernetes=parse_kubernetes_api(config.get_object("vaultKubernetesApi")),
    )


def parse_database_admins(raw: Any) -> dict[str, DatabaseAdmin]:
    if raw is None:
        return {}
    how = (
        "set each app's entry with `pulumi config set --secret --path "
        "'meridian:vaultDatabaseAdmins.<app>.username' <role>` and the same for `.password`"
    )
    if not isinstance(raw, dict):
        raise VaultSettingsError(
            f"meridian:vaultDatabaseAdmins must be an object {{app: {{username, password}}}}; {how}"
        )
    admins = {}
    for app, entry in raw.items():
        missing = [k for k in ("username", "password") if not isinstance(entry, dict) or not entry.get(k)]
        if missing:
            raise VaultSettingsError(
                f"meridian:vaultDatabaseAdmins.{app} lacks {' and '.join(missing)}; {how}"
            )
        admins[app] = DatabaseAdmin(
            username=str(entry["username"]), password=pulumi.Output.secret(str(entry["password"]))
        )
    return admins


def parse_kubernetes_api(raw: Any) -> KubernetesApi:
    if raw is None:
        return KubernetesApi()
    allowed = {"host", "caCert", "tokenReviewerJwt"}
    if not isinstance(raw, dict) or not raw.get("host") or set(raw) - allowed:
        raise VaultSettingsError(
            "meridian:vaultKubernetesApi must be an object with host (https://…) and optionally caCert "
            "(PEM) and tokenReviewerJwt; leave it unset when Vault runs in the cluster"
        )
    jwt = raw.get("tokenReviewerJwt") or ""
    return KubernetesApi(
        host=str(raw["host"]),
        ca_cert=str(raw.get("caCert") or ""),
        token_reviewer_jwt=pulumi.Output.secret(str(jwt)) if jwt else "",
    )
