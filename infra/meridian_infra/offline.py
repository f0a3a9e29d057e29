"""Run the platform program with Pulumi's mocks and record what it declares: no engine, no cluster.

`meridian render ENV --platform` and the unit tests both use this, so the objects the policy gate
checks are exactly the ones the program hands to the engine. Values that only exist at deploy time
(generated passwords, a kind cluster's kubeconfig) are recorded as placeholders.

Only Pulumi's public mock API is used: `pulumi.runtime.set_mocks` with `Mocks` (whose `new_resource`
gets each resource's `MockResourceArgs`), given the SDK's `MockMonitor` through set_mocks' `monitor`
parameter so that `MockMonitor.get_registered_resources()` can be read after the run. That is what
the recorder needs beyond `MockResourceArgs`: the URN, whose type chain names the component that
declared a resource (MockResourceArgs carries no parent). `pulumi.runtime.reset_options()` starts
each run with a fresh root stack, and `pulumi.runtime.rpc`'s `is_rpc_secret`/`unwrap_rpc_secret`
read the secret marker the mocks receive inputs in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from meridian_infra.cluster import ClusterAccess
from meridian_infra.databases import database_targets
from meridian_infra.observability.stack import LOKI_STORAGE_KEYS
from meridian_infra.program import Platform, StackSecrets, declare_platform
from meridian_infra.spec.models import EnvironmentSpec
from meridian_infra.vault.settings import DatabaseAdmin, VaultConnection

DEPLOY_TIME = "<generated at deploy time>"
FROM_STACK = "<from the stack's encrypted config>"
OFFLINE_KUBECONFIG = "<kubeconfig of the target cluster>"
KUBERNETES_PREFIX = "kubernetes:"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"

# Outputs that the real providers compute; the program may read them, so mocks must supply them.
_COMPUTED: dict[str, dict[str, Any]] = {
    "random:index/randomPassword:RandomPassword": {"result": DEPLOY_TIME, "bcryptHash": DEPLOY_TIME},
    "pulumi-python:dynamic:Resource": {"kubeconfig": OFFLINE_KUBECONFIG},
    **{
        f"pulumi-python:dynamic/tls:{name}": {
            "tls_ca_cert": DEPLOY_TIME,
            "tls_server_cert": DEPLOY_TIME,
            "tls_server_key": DEPLOY_TIME,
            "tls_not_after": DEPLOY_TIME,
        }
        for name in ("VaultCertificates", "AdmissionCertificates")
    },
}


@dataclass(frozen=True)
class Declared:
    """One resource the program registered: its URN, and its inputs as plain data."""

    urn: str
    inputs: dict[str, Any]
    # Inputs the engine receives as secrets (under mocks they only ever hold placeholders).
    secret_inputs: frozenset[str] = frozenset()

    @classmethod
    def of(cls, registration: MockMonitor.ResourceRegistration) -> Declared:
        state = dict(registration.state)
        return cls(
            urn=registration.urn,
            inputs=_plain(state),
            secret_inputs=frozenset(key for key, value in state.items() if rpc.is_rpc_secret(value)),
        )

    @property
    def type(self) -> str:
        """The resource's type token: the last of the URN's type chain (`stack$component$type`)."""
        return self.urn.split("::")[2].rsplit("$", 1)[-1]

    @property
    def name(self) -> str:
        return self.urn.split("::", 3)[3]

    @property
    def component(self) -> str:
        """The Meridian component that declared it (`namespaces`, `network`, …), from the URN's type chain."""
        chain = self.urn.split("::")[2].split("$")
        owners = [t.rsplit(":", 1)[-1].lower() for t in chain[:-1] if t.startswith("meridian:")]
        return owners[-1] if owners else "stack"

    @property
    def is_kubernetes_object(self) -> bool:
        return (
            self.type.startswith(KUBERNETES_PREFIX)
            and self.type != HELM_RELEASE
            and not self.type.endswith("Patch")
        )


@dataclass
class Recording:
    declared: list[Declared] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Declared]:
        return [d for d in self.declared if d.type == type_]

    def kubernetes_objects(self) -> list[Declared]:
        return [d for d in self.declared if d.is_kubernetes_object]

    def helm_releases(self) -> list[Declared]:
        return self.of_type(HELM_RELEASE)

    def patches(self) -> list[Declared]:
        return [d for d in self.declared if d.type.startswith(KUBERNETES_PREFIX) and d.type.endswith("Patch")]


class RecordingMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = {**args.inputs, **_COMPUTED.get(args.typ, {})}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _ensure_event_loop() -> None:
    # The SDK creates futures on the thread's current loop; a caller that ran asyncio.run()
    # before (a gRPC aio server, say) leaves none behind.
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_with_mocks(program: Callable[[], object], mocks: pulumi.runtime.Mocks, *, stack: str) -> MockMonitor:
    """Run `program` once under `mocks`; may run many times per process. The monitor it returns
    holds every resource the program registered (`get_registered_resources()`), in that order."""
    _ensure_event_loop()
    pulumi.runtime.reset_options(project="meridian", stack=stack)  # a fresh root stack per run
    monitor = MockMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="meridian", stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.test(program)()
    return monitor


def run_offline(program: Callable[[], object], *, stack: str) -> Recording:
    """Run `program` under recording mocks and return every resource it registered."""
    monitor = run_with_mocks(program, RecordingMocks(), stack=stack)
    registered = monitor.get_registered_resources().values()
    return Recording(sorted((Declared.of(r) for r in registered), key=lambda d: d.urn))


def record_platform(spec: EnvironmentSpec, access: ClusterAccess | None = None) -> tuple[Platform, Recording]:
    """The platform of `spec` as declared offline (charts assumed reachable, as in a connected cluster)."""
    holder: dict[str, Platform] = {}

    def program() -> None:
        holder["platform"] = declare_platform(
            spec,
            access or ClusterAccess(kubeconfig=OFFLINE_KUBECONFIG),
            probe_charts=False,
            secrets=offline_secrets(spec),
        )

    recording = run_offline(program, stack=spec.name)
    return holder["platform"], recording


def offline_secrets(spec: EnvironmentSpec) -> StackSecrets:
    """Placeholders for every stack secret the spec asks for, so offline runs declare what `up` would."""
    admins = {app: DatabaseAdmin(FROM_STACK, FROM_STACK) for app in database_targets(spec)}
    return StackSecrets(
        vault_seal=FROM_STACK,
        alert_receivers={route.receiver: FROM_STACK for route in spec.observability.alert_routes},
        vault=VaultConnection(token=FROM_STACK, database_admins=admins),
        loki_object_storage=dict.fromkeys(LOKI_STORAGE_KEYS, FROM_STACK),
    )


def _plain(value: Any) -> Any:
    """Inputs as plain data: secrets unwrapped and numbers that were integers made integers again
    (mocks hand them back as floats)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if rpc.is_rpc_secret(value):
        return _plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
