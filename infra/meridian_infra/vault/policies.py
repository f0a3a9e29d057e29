"""Vault policies as text: each app's, and the one the platform's own token (meridian:vaultToken) needs.

Mount paths live here because both kinds of policy are written against them.
"""

from __future__ import annotations

KV_MOUNT = "secret"
AUTH_MOUNT = "kubernetes"
DATABASE_MOUNT = "database"


def _path(path: str, *capabilities: str) -> str:
    listed = ", ".join(f'"{c}"' for c in capabilities)
    return f'path "{path}" {{\n  capabilities = [{listed}]\n}}\n'


def app_policy(app: str) -> str:
    return (
        f"# {app}: its own database credentials and its own static secrets, nothing else.\n"
        + _path(f"{DATABASE_MOUNT}/creds/{app}", "read")
        + _path(f"{KV_MOUNT}/data/apps/{app}/*", "read")
    )


def platform_policy() -> str:
    """What `pulumi up` does in Vault, and no more: it never disables a mount (mounts are kept when
    removed from the program) and never reads a secret. It can write policies and auth roles, so it is
    as powerful as an administrator of these paths: keep the token in the stack's encrypted config only."""
    crud = ("create", "read", "update", "delete", "list")
    text = "# The token meridian:vaultToken holds: what the platform program configures in Vault.\n"
    for mount in (KV_MOUNT, DATABASE_MOUNT):
        text += _path(f"sys/mounts/{mount}", "create", "read", "update")
        text += _path(f"sys/mounts/{mount}/tune", "read", "update")
    # Enabling and reading an auth method needs sudo.
    text += _path(f"sys/auth/{AUTH_MOUNT}", "create", "read", "update", "sudo")
    text += _path(f"sys/auth/{AUTH_MOUNT}/tune", "read", "update", "sudo")
    text += _path(f"auth/{AUTH_MOUNT}/config", "create", "read", "update")
    text += _path(f"auth/{AUTH_MOUNT}/role/*", *crud)
    text += _path("sys/policies/acl/*", *crud)
    text += _path(f"{DATABASE_MOUNT}/config/*", *crud)
    text += _path(f"{DATABASE_MOUNT}/roles/*", *crud)
    # Removing an app revokes the credentials it still holds before its role goes.
    text += _path(f"sys/leases/revoke-prefix/{DATABASE_MOUNT}/creds/*", "update", "sudo")
    return text
