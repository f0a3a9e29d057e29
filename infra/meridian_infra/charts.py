"""The third-party Helm charts the platform installs, each pinned to one version.

Versions are pinned here and nowhere else; an environment may only point a chart at a mirror of its
repository (`charts.<name>.repository` in the spec, or $MERIDIAN_CHART_MIRROR for all; see
`chart_sources`) or mark it required. Bumping a chart changes its line here, which every
environment then picks up through its own promotion. Helm never upgrades the CRDs a chart keeps
in a crds/ folder, so where those changed they are applied from `meridian render ENV --platform`'s
build/crds/ENV/ before that environment's `up` (docs/operations.md, "Chart CRDs").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartPin:
    name: str  # the key used in the spec and in messages, and the release's name
    version: str
    repository: str
    namespace: str
    required_by_default: bool = False

    @property
    def chart(self) -> str:
        """The chart's name in its repository: every chart here is released under it."""
        return self.name


CHARTS: dict[str, ChartPin] = {
    pin.name: pin
    for pin in (
        ChartPin("tigera-operator", "v3.30.3", "https://docs.tigera.io/calico/charts", "tigera-operator"),
        ChartPin("argo-cd", "9.5.4", "https://argoproj.github.io/argo-helm", "argocd"),
        ChartPin("vault", "0.34.1", "https://helm.releases.hashicorp.com", "vault"),
        ChartPin(
            "kube-prometheus-stack",
            "87.0.0",
            "https://prometheus-community.github.io/helm-charts",
            "monitoring",
        ),
        ChartPin("loki", "6.52.0", "https://grafana.github.io/helm-charts", "monitoring"),
        ChartPin("alloy", "1.11.1", "https://grafana.github.io/helm-charts", "monitoring"),
    )
}
