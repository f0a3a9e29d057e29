"""Vault objects as Pulumi resources: one dynamic provider per kind of object, talking to Vault with hvac.

Each resource is one object at one Vault path (a mount, the Kubernetes auth config, an auth role, a
policy, a database connection or role), so `pulumi up` shows a create, update or delete per object.
A resource's inputs are the object's fields, named as Vault's API names them, plus how to reach
Vault: `vault_address`, the secret `vault_token`, and outside dev `vault_ca_cert`, the CA it is verified with.

Diff: a changed *identity* field (the path or the kind of object) replaces the object; any other
change, the connection included, rewrites it in place. The connection counts because the engine
gives `delete` only the last stored outputs: they must hold a token that still works.

Refresh reads each object back in the shape of the inputs, so drift made by hand shows as an update
on the next `pulumi up`. Fields Vault never returns (passwords, JWTs) keep their stored values.
"""

from __future__ import annotations

import contextlib
import tempfile
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import hvac
import hvac.exceptions
import pulumi
import pulumi.dynamic
import requests

CONNECTION = ("vault_address", "vault_token", "vault_ca_cert")
Props = dict[str, Any]


class VaultRequestFailed(RuntimeError):
    pass


@contextlib.contextmanager
def vault_client(props: Mapping[str, Any], action: str) -> Iterator[hvac.Client]:
    """An hvac client for the resource's Vault; failures become messages that say what to do."""
    address = props["vault_address"]
    with contextlib.ExitStack() as stack:
        client = hvac.Client(
            url=address, token=props["vault_token"], timeout=30, verify=_verify(stack, props)
        )
        with _explained(address, action):
            yield client


def _verify(stack: contextlib.ExitStack, props: Mapping[str, Any]) -> bool | str:
    """requests' `verify`: a file holding the CA the stack gave, else the system's CAs."""
    ca_cert = props.get("vault_ca_cert") or ""
    if not ca_cert:
        return True
    # requests reads `verify` as a path; the file lives as long as the client.
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vault-ca-")))
    (folder / "ca.pem").write_text(ca_cert)
    return str(folder / "ca.pem")


@contextlib.contextmanager
def _explained(address: str, action: str) -> Iterator[None]:
    try:
        yield
    except requests.exceptions.SSLError as exc:
        raise VaultRequestFailed(
            f"Vault at {address} did not prove who it is to {action} ({_first_line(exc)}). Outside dev "
            "the platform's CA signs Vault's certificate and the program trusts it; a Vault elsewhere needs "
            'its CA in `pulumi config set meridian:vaultCaCert "$(cat ca.pem)"` (docs/vault.md)'
        ) from None
    except requests.exceptions.ConnectionError as exc:
        raise VaultRequestFailed(
            f"cannot reach Vault at {address} to {action} ({type(exc).__name__}). The default address "
            "resolves only inside the cluster: run `kubectl -n vault port-forward svc/vault 8200:8200` and "
            "`pulumi config set meridian:vaultAddress https://127.0.0.1:8200` (http:// in dev), or run "
            f"pulumi where {address} resolves (docs/vault.md)"
        ) from None
    except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized) as exc:
        raise VaultRequestFailed(
            f"Vault at {address} refused to {action}: {_first_line(exc)}. The token in meridian:vaultToken "
            "must be valid and carry the platform policy of docs/vault.md"
        ) from None
    except hvac.exceptions.VaultError as exc:
        raise VaultRequestFailed(f"Vault at {address} refused to {action}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def read_data(client: hvac.Client, path: str) -> dict[str, Any] | None:
    """The `data` of a GET, or None when nothing is at the path."""
    response = client.read(path)
    if response is None:
        return None
    data: dict[str, Any] = response.get("data") or {}
    return data


def seconds(value: Any) -> str:
    """TTLs as Vault reads them back (whole seconds) in the form the inputs use: `3600s`."""
    return f"{int(value)}s"


class VaultObjectProvider(pulumi.dynamic.ResourceProvider):
    """Create, diff, update, read and delete for one kind of Vault object; subclasses say where and how."""

    # Fields that make it a different object (its path or kind): a change replaces it.
    identity: ClassVar[tuple[str, ...]] = ()
    # Fields Vault changes in place.
    settings: ClassVar[tuple[str, ...]] = ()
    # Settings Vault accepts but never returns, so refresh keeps the stored value.
    write_only: ClassVar[tuple[str, ...]] = ()
    # Two objects of this kind cannot coexist at one path while replacing, so the old one goes first.
    deletes_before_replace: ClassVar[bool] = False

    def path(self, props: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def write(self, client: hvac.Client, props: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def read_fields(self, client: hvac.Client, props: Mapping[str, Any]) -> dict[str, Any] | None:
        """The object's identity and settings as Vault has them now, or None when it is gone."""
        raise NotImplementedError

    def remove(self, client: hvac.Client, props: Mapping[str, Any]) -> None:
        client.delete(self.path(props))

    def diff(self, _id: str, olds: Props, news: Props) -> pulumi.dynamic.DiffResult:
        watched = (*self.identity, *self.settings, *self.write_only, *CONNECTION)
        changed = [key for key in watched if olds.get(key) != news.get(key)]
        replaces = [key for key in changed if key in self.identity]
        return pulumi.dynamic.DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=self.deletes_before_replace and bool(replaces),
        )

    def create(self, props: Props) -> pulumi.dynamic.CreateResult:
        with vault_client(props, f"write {self.path(props)}") as client:
            self.write(client, props)
        return pulumi.dynamic.CreateResult(id_=self.path(props), outs=dict(props))

    def update(self, _id: str, _olds: Props, news: Props) -> pulumi.dynamic.UpdateResult:
        with vault_client(news, f"write {self.path(news)}") as client:
            self.write(client, news)
        return pulumi.dynamic.UpdateResult(outs=dict(news))

    def read(self, id_: str, props: Props) -> pulumi.dynamic.ReadResult:
        with vault_client(props, f"read {self.path(props)}") as client:
            live = self.read_fields(client, props)
        if live is None:
            return pulumi.dynamic.ReadResult(id_="", outs={})
        return pulumi.dynamic.ReadResult(id_=id_, outs={**props, **live})

    def delete(self, _id: str, props: Props) -> None:
        with vault_client(props, f"delete {self.path(props)}") as client:
            # Deleting what is already gone succeeds in Vault, so a retried delete is harmless.
            self.remove(client, props)


class MountTaken(VaultRequestFailed):
    pass


class _MountProvider(VaultObjectProvider):
    """A secrets engine (sys/mounts) or auth method (sys/auth) at a path."""

    identity = ("path", "type")
    settings: ClassVar[tuple[str, ...]] = ("description",)
    deletes_before_replace = True
    section: ClassVar[str] = ""

    def path(self, props: Mapping[str, Any]) -> str:
        return f"sys/{self.section}/{props['path']}"

    def read_mount(self, client: hvac.Client, props: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return read_data(client, self.path(props))
        except hvac.exceptions.InvalidRequest as exc:
            # Vault answers 400 "No secret engine mount at …" / "No auth engine at …" for a free path.
            if str(exc).startswith("No "):
                return None
            raise

    def tuning(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return {"description": props["description"]}

    def write(self, client: hvac.Client, props: Mapping[str, Any]) -> None:
        path = self.path(props)
        live = self.read_mount(client, props)
        if live is None:
            client.write_data(path, data={"type": props["type"], **self.tuning(props)})
            return
        # Already there (Vault's dev server mounts secret/ itself): adopt it if it is the same kind.
        if live.get("type") != props["type"]:
            raise MountTaken(
                f"{props['path']}/ in Vault at {props['vault_address']} is a {live.get('type')} "
                f"{self.section} entry, not {props['type']}: move it (`vault secrets move`, "
                "`vault auth disable`) first"
            )
        client.write_data(f"{path}/tune", data=self.tuning(props))

    def read_fields(self, client: hvac.Client, props: Mapping[str, Any]) -> dict[str, Any] | None:
        live = self.read_mount(client, props)
        return None if live is None else self.describe(live, props)

    def describe(self, live: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
        return {"path": props["path"], "type": live.get("type"), "description": live.get("description", "")}


class SecretsMountProvider(_MountProvider):
    settings = ("description", "options")
    section = "mounts"

    def tuning(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return {"description": props["description"], "options": dict(props["options"])}

    def describe(self, live: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().describe(live, props), "options": dict(live.get("options") or {})}


class AuthMountProvider(_MountProvider):
    section = "auth"


class KubernetesAuthConfigProvider(VaultObjectProvider):
    identity = ("mount",)
    settings = ("kubernetes_host", "kubernetes_ca_cert", "disable_local_ca_jwt")
    write_only = ("token_reviewer_jwt",)

    def path(self, props: Mapping[str, Any]) -> str:
        return f"auth/{props['mount']}/config"

    def write(self, client: hvac.Client, props: Mapping[str, Any]) -> None:
        client.write_data(
            self.path(props),
            data={
                "kubernetes_host": props["kubernetes_host"],
                "kubernetes_ca_cert": props["kubernetes_ca_cert"],
                "token_reviewer_jwt": props["token_reviewer_jwt"],
                "disable_local_ca_jwt": props["disable_local_ca_jwt"],
            },
        )

    def read_fields(self, client: hvac.Client, props: Mapping[str, Any]) -> dict[str, Any] | None:
        live = read_data(client, self.path(props))
        if not live or not live.get("kubernetes_host"):
            return None
        return {
            "mount": props["mount"],
            "kubernetes_host": live["kubernetes_host"],
            "kubernetes_ca_cert": live.get("kubernetes_ca_cert") or "",
            "disable_local_ca_jwt": bool(live.get("disable_local_ca_jwt")),
        }

    def remove(self, client: hvac.Client, props: Mapping[str, Any]) -> None:
        """Vault cannot delete this path; the config goes with its auth mount."""


class KubernetesAuthRoleProvider(VaultObjectProvider):
    identity = ("mount", "name")
    settings = ("bound_service_account_names", "bound_service_account_namespaces", "token_policies")

    def path(self, props: Mapping[str, Any]) -> str:
        return f"auth/{props['mount']}/role/{props['name']}"

    def write(self, client: hvac.Client, props: Mapping[str, Any]) -> None:
        client.write_data(self.path(props), data={key: list(props[key]) for key in self.settings})

    def read_fields(self, client: hvac.Client, props: Mapping[str, Any]) -> dict[str, Any] | None:
        live = read_data(client, self.path(props))
        if live is None:
            return None
        return {"mount": props["mount"], "name": props["name"]} | {
            key: list(live.get(key) or []) for key in self.settings
        }


class PolicyProvider(VaultObjectProvider):
    identity = ("name",)
    settings = ("policy",)

    def path(self, props: Mapping[str, Any]) -> str:
        return f"sys/policies/acl/{props['name']}"

    def write(self, client: hvac.Client, props: Mapping[str, Any]) -> None:
        client.write_data(self.path(props), data={"policy": props["policy"]})

    def read_fields(self, client: hvac.Client, props: Mapping[str, Any]) -> dict[str, Any] | None:
        live = read_data(client, self.path(props))
        if live is None:
            return None
        return {"name": props["name"], "policy": live.get("policy", "")}


class DatabaseConnectionProvider(VaultObjectProvider):
    identity = ("mount", "name")
    settings = ("plugin_name", "connection_url", "username", "allowed_roles", "password_authentication")
    write_only = ("password",)

    def path(self, props: Mapping[str, Any]) -> str:
        return f"{props['mount']}/config/{props['name']}"

    def write(self, client: hvac.Client, props: Mapping[str, Any]) -> None:
        data = {key: props[key] for key in (*self.settings, *self.write_only)}
        # Vault logs in with these now, so a wrong host or password fails `pulumi up`, not a pod later.
        data["verify_connection"] = True
        client.write_data(self.path(props), data=data)

    def read_fields(self, client: hvac.Client, props: Mapping[str, Any]) -> dict[str, Any] | None:
        live = read_data(client, self.path(props))
        if live is None:
            return None
        details = live.get("connection_details") or {}
        return {
            "mount": props["mount"],
            "name": props["name"],
            "plugin_name": live.get("plugin_name"),
            "connection_url": details.get("connection_url"),
            "username": details.get("username"),
            "allowed_roles": list(live.get("allowed_roles") or []),
            "password_authentication": details.get("password_authentication", "password"),
        }


class DatabaseRoleProvider(VaultObjectProvider):
    identity = ("mount", "name")
    settings = ("db_name", "creation_statements", "revocation_statements", "default_ttl", "max_ttl")

    def path(self, props: Mapping[str, Any]) -> str:
        return f"{props['mount']}/roles/{props['name']}"

    def write(self, client: hvac.Client, props: Mapping[str, Any]) -> None:
        client.write_data(self.path(props), data={key: props[key] for key in self.settings})

    def remove(self, client: hvac.Client, props: Mapping[str, Any]) -> None:
        # Credentials outlive their role; revoke them while the connection that can drop them exists.
        client.write_data(f"sys/leases/revoke-prefix/{props['mount']}/creds/{props['name']}")
        client.delete(self.path(props))

    def read_fields(self, client: hvac.Client, props: Mapping[str, Any]) -> dict[str, Any] | None:
        live = read_data(client, self.path(props))
        if live is None:
            return None
        return {
            "mount": props["mount"],
            "name": props["name"],
            "db_name": live.get("db_name"),
            "creation_statements": list(live.get("creation_statements") or []),
            "revocation_statements": list(live.get("revocation_statements") or []),
            "default_ttl": seconds(live.get("default_ttl", 0)),
            "max_ttl": seconds(live.get("max_ttl", 0)),
        }


class VaultObject(pulumi.dynamic.Resource):
    """One Vault object; subclasses name the kind (the Pulumi type) and its provider."""

    provider_class: ClassVar[type[VaultObjectProvider]]

    def __init__(
        self,
        name: str,
        address: pulumi.Input[str],
        token: pulumi.Input[str],
        fields: Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        *,
        ca_cert: pulumi.Input[str] = "",
    ) -> None:
        provider = self.provider_class()
        props = {"vault_address": address, "vault_token": pulumi.Output.secret(token), **fields}
        if ca_cert:  # left out when empty, so stacks from before TLS see no change
            props["vault_ca_cert"] = ca_cert
        # Whatever the caller passed, what Vault never shows again is kept as a secret.
        props |= {key: pulumi.Output.secret(fields[key]) for key in provider.write_only if key in fields}
        secret = pulumi.ResourceOptions(additional_secret_outputs=["vault_token", *provider.write_only])
        super().__init__(provider, name, props, pulumi.ResourceOptions.merge(opts, secret))


def _kind(provider: type[VaultObjectProvider]) -> type[VaultObject]:
    """The resource class of one kind of Vault object, named after its provider; its Pulumi type is
    `pulumi-python:dynamic/vault:<kind>`."""
    kind = provider.__name__.removesuffix("Provider")
    body = {"provider_class": provider, "__module__": __name__, "__qualname__": kind}
    type_name = {"module": "vault", "name": kind}
    return types.new_class(kind, (VaultObject,), type_name, lambda ns: ns.update(body))


SecretsMount = _kind(SecretsMountProvider)
AuthMount = _kind(AuthMountProvider)
KubernetesAuthConfig = _kind(KubernetesAuthConfigProvider)
KubernetesAuthRole = _kind(KubernetesAuthRoleProvider)
Policy = _kind(PolicyProvider)
DatabaseConnection = _kind(DatabaseConnectionProvider)
DatabaseRole = _kind(DatabaseRoleProvider)
