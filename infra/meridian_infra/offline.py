"""Run the platform program with Pulumi's mocks and record what it declares: no engine, no cluster.

`meridian render ENV --platform` and the unit tests both use this, so the objects the policy gate
checks are exactly the ones the program hands to the engine. Values that only exist at deploy time
(generated passwords, a kind cluster's kubeconfig) are recorded as placeholders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import settings as pulumi_settings
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
PROVIDER_PREFIX = "pulumi:providers:"

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
    """One resource the program registered."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]

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

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


class _RecordingMonitor(MockMonitor):
    def __init__(self, mocks: RecordingMocks, recording: Recording) -> None:
        super().__init__(mocks)
        self.recording = recording

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack" and response.urn in self.resources:
            registration = self.resources[response.urn]
            self.recording.declared.append(
                Declared(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    inputs=_plain(dict(registration.state)),
                )
            )
        return response


def _ensure_event_loop() -> None:
    # The SDK creates futures on the thread's current loop; a caller that ran asyncio.run()
    # before (a gRPC aio server, say) leaves none behind.
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_with_mocks(
    program: Callable[[], Any], mocks: pulumi.runtime.Mocks, monitor: Any, *, stack: str
) -> None:
    """Run `program` once under `mocks`, registering with `monitor`; may run many times per process."""
    _ensure_event_loop()
    pulumi_settings.ROOT.set(None)  # a fresh root stack per run, so several stacks can run in one process
    pulumi.runtime.set_mocks(mocks, project="meridian", stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.test(program)()


def run_offline(program: Callable[[], Any], *, stack: str) -> Recording:
    """Run `program` under recording mocks and return every resource it registered."""
    recording = Recording()
    run_with_mocks(program, RecordingMocks(), _RecordingMonitor(RecordingMocks(), recording), stack=stack)
    recording.declared.sort(key=lambda d: d.urn)
    return recording


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


# How the Pulumi wire format wraps a secret value.
_SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


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
    """Inputs as plain data: secrets unwrapped (under mocks they only ever hold placeholders) and
    numbers that were integers made integers again (mocks hand them back as floats)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict) and value.get(_SECRET_SIG[0]) == _SECRET_SIG[1]:
        return _plain(value.get("value"))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
