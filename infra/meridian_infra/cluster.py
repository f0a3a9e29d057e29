"""The cluster an environment runs on, and the one explicit Kubernetes provider every other object uses.

dev creates its own (kind where a container runtime answers, else the local control plane that
`meridian cluster up --local` runs); staging and prod connect to an existing cluster through the
kubeconfig and context in the stack's encrypted config.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from meridian_infra import kind
from meridian_infra.spec.models import ClusterType, EnvironmentSpec


class ClusterUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class ClusterAccess:
    """What the stack knows about reaching its cluster; nothing here comes from the spec file."""

    kubeconfig: pulumi.Input[str] | None  # contents; required for existing and local clusters
    context: str | None = None
    # Resolves `auto` (decide_type): kind if True, else the local control plane. Offline runs leave it
    # False, so a render does not depend on the machine it runs on.
    container_runtime: bool = False


def decide_type(configured: ClusterType, *, container_runtime: bool | None = None) -> ClusterType:
    """The cluster an environment runs on, decided here for the program and for `meridian up` alike:
    `auto` is kind where a container runtime answers (asked when `container_runtime` is None), else
    the local control plane."""
    if configured is not ClusterType.AUTO:
        return configured
    if container_runtime is None:
        container_runtime = kind.container_runtime_available()
    return ClusterType.KIND if container_runtime else ClusterType.LOCAL


class ClusterConnection(pulumi.ComponentResource):
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]

    def __init__(
        self, spec: EnvironmentSpec, access: ClusterAccess, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("meridian:platform:Cluster", "cluster", None, opts)
        self.type = decide_type(spec.cluster.type, container_runtime=access.container_runtime)
        if self.type is ClusterType.KIND:
            cluster = kind.KindCluster(
                "kind", spec.cluster, spec.network, pulumi.ResourceOptions(parent=self)
            )
            kubeconfig: pulumi.Input[str] = cluster.kubeconfig
        elif access.kubeconfig is None:
            raise ClusterUnavailable(_missing_kubeconfig(spec, self.type))
        else:
            kubeconfig = access.kubeconfig
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        self.provider = k8s.Provider(
            "cluster",
            kubeconfig=self.kubeconfig,
            context=access.context,
            # A dev cluster that was torn down outside Pulumi should not wedge the stack.
            delete_unreachable=self.type is not ClusterType.EXISTING,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"type": self.type.value})


def _missing_kubeconfig(spec: EnvironmentSpec, cluster_type: ClusterType) -> str:
    if cluster_type is ClusterType.LOCAL:
        return (
            f"environment {spec.name} runs on the local control plane, which is not running: "
            "start it with `meridian cluster up --local` (make up does this)"
        )
    return (
        f"environment {spec.name} uses an existing cluster: set its kubeconfig with "
        f'`pulumi config set --secret meridian:kubeconfig "$(cat KUBECONFIG)" --stack {spec.name}` '
        "(and meridian:context to pick a context)"
    )
