"""Helm releases of the pinned charts: where each comes from, and what happens when it cannot be had.

Every chart can be pointed at a mirror (`chart_sources`). Where the *upstream* repository cannot be
reached (an air-gapped laptop), an optional chart is skipped with one warning that names the mirror
settings; a required one stops the program. A mirror that is set but wrong or silent always stops it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from meridian_core import layout

from meridian_infra.chart_sources import MIRROR_ENV, ChartSource, ChartSourceError, ChartUnreachable, resolve
from meridian_infra.charts import CHARTS
from meridian_infra.spec.models import EnvironmentSpec


class ChartUnavailable(RuntimeError):
    pass


class Charts:
    """Declares Helm releases for one environment; `probe` is off when rendering offline."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        provider: pulumi.ProviderResource,
        *,
        probe: bool,
        namespaces: Mapping[str, pulumi.Resource],
    ) -> None:
        self._spec = spec
        self._provider = provider
        self._probe = probe
        # Every release waits for the namespace it installs into, whoever declares it.
        self._namespaces = dict(namespaces)
        self.skipped: list[str] = []

    @property
    def spec_file(self) -> str:
        return layout.spec_path(self._spec.name)

    def source(self, key: str) -> ChartSource:
        override = self._spec.charts.get(key)
        try:
            return resolve(CHARTS[key], override.repository if override else None, self.spec_file)
        except ChartSourceError as exc:
            raise ChartUnavailable(str(exc)) from None

    def required(self, key: str) -> bool:
        override = self._spec.charts.get(key)
        if override is not None and override.required is not None:
            return override.required
        return CHARTS[key].required_by_default

    def available(self, key: str) -> ChartSource | None:
        """The chart's source if it can be had, None if an optional upstream chart is to be skipped."""
        source = self.source(key)
        if not self._probe:
            return source
        try:
            source.check()
        except ChartSourceError as exc:
            raise ChartUnavailable(str(exc)) from None
        except ChartUnreachable as exc:
            if not source.upstream:
                raise ChartUnavailable(f"{source.describe()}: {exc}") from None
            message = (
                f"{source.describe()} cannot be fetched ({exc}); point it at a mirror with "
                f"${MIRROR_ENV} or charts.{key}.repository in {self.spec_file}"
            )
            if self.required(key):
                raise ChartUnavailable(message + f" (charts.{key}.required is true)") from None
            pulumi.log.warn(message + "; skipping it and the objects that need its CRDs")
            self.skipped.append(key)
            return None
        return source

    def release(
        self,
        key: str,
        values: dict[str, Any],
        *,
        parent: pulumi.Resource,
        depends_on: list[pulumi.Resource] | None = None,
    ) -> k8s.helm.v3.Release | None:
        source = self.available(key)
        if source is None:
            return None
        namespace = self._namespaces.get(source.pin.namespace)
        needs = [*(depends_on or []), *([namespace] if namespace is not None else [])]
        return k8s.helm.v3.Release(
            key,
            name=key,
            namespace=source.pin.namespace,
            values=values,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            timeout=900,
            opts=pulumi.ResourceOptions(parent=parent, provider=self._provider, depends_on=needs),
            **source.release_args(),
        )
