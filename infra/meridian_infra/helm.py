"""Helm releases of the pinned charts: where each comes from, and what happens when it is unreachable.

An environment can point any chart at a mirror. Where a chart cannot be fetched (an air-gapped
machine, the local control plane), an optional chart is skipped with one warning that names the
mirror setting; a required one stops the program.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from meridian_infra.charts import CHARTS, ChartPin, repository_reachable
from meridian_infra.spec.models import EnvironmentSpec


class ChartUnavailable(RuntimeError):
    pass


class Charts:
    """Declares Helm releases for one environment; `probe` is off when rendering offline."""

    def __init__(self, spec: EnvironmentSpec, provider: pulumi.ProviderResource, *, probe: bool) -> None:
        self._spec = spec
        self._provider = provider
        self._probe = probe
        self.skipped: list[str] = []

    def repository(self, key: str) -> str:
        override = self._spec.charts.get(key)
        return (override.repository if override and override.repository else None) or CHARTS[key].repository

    def required(self, key: str) -> bool:
        override = self._spec.charts.get(key)
        if override is not None and override.required is not None:
            return override.required
        return CHARTS[key].required_by_default

    def release(
        self,
        key: str,
        values: dict[str, Any],
        *,
        parent: pulumi.Resource,
        depends_on: list[pulumi.Resource] | None = None,
    ) -> k8s.helm.v3.Release | None:
        pin: ChartPin = CHARTS[key]
        repository = self.repository(key)
        if self._probe and not repository_reachable(repository):
            where = f"environments/{self._spec.name}/platform.yaml"
            message = (
                f"chart {pin.chart} {pin.version} cannot be fetched from {repository}; "
                f"set charts.{key}.repository in {where} to a mirror"
            )
            if self.required(key):
                raise ChartUnavailable(message + f" (charts.{key}.required is true)")
            pulumi.log.warn(message + "; skipping it and the objects that need its CRDs")
            self.skipped.append(key)
            return None
        return k8s.helm.v3.Release(
            key,
            name=key,
            chart=pin.chart,
            version=pin.version,
            namespace=pin.namespace,
            repository_opts={"repo": repository},
            values=values,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            timeout=900,
            opts=pulumi.ResourceOptions(parent=parent, provider=self._provider, depends_on=depends_on or []),
        )
