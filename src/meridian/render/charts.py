"""The charts' half of a platform render: each Helm release the program declares, rendered through
its pinned chart, written beside the program's own objects.

build/ENV/platform/charts/RELEASE.yaml   what the chart installs (the policy gate checks these)
build/crds/ENV/RELEASE.yaml              the chart's CRDs, kept apart: no rule judges a schema, and
                                         they are what an operator applies on a chart bump
                                         (docs/operations.md, "Chart CRDs")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from meridian_core import layout
from meridian_core.errors import RefusedError
from meridian_core.layout import Repo
from meridian_infra.charts import CHARTS
from meridian_infra.offline import Declared
from meridian_infra.spec import EnvironmentSpec

from meridian import toolchain
from meridian.render import chart_exemptions
from meridian.render.chart_sources import ChartSource, choose_repository, fetch
from meridian.render.chart_templates import Release, render_releases

# The API server the local control plane runs; existing clusters are expected on the same minor.
KUBE_API_SERVER_TOOL = "kube-apiserver"


@dataclass(frozen=True)
class ChartCounts:
    objects: dict[str, int]  # release -> objects written (CRDs apart)
    crds: dict[str, int]
    exemptions: int


def target_kube_version(repo: Repo) -> str:
    if not (repo.tools_dir / "tools.toml").is_file():
        # A repository forked without tools/ (a test's scratch repository): the pins of the
        # checkout this command runs from.
        repo = Repo(Path(__file__).resolve().parents[3])
    manifest = toolchain.load_manifest(repo)
    tool = next(t for t in manifest.tools if t.name == KUBE_API_SERVER_TOOL)
    version = toolchain.pinned_version(repo, tool)
    if not version:
        raise RefusedError(f"no pinned version of {KUBE_API_SERVER_TOOL} in {tool.gomod}")
    return f"v{version}"


def chart_source(repo: Repo, spec: EnvironmentSpec, declared: Declared) -> ChartSource:
    inputs = declared.inputs
    name = str(inputs["name"])
    override = spec.charts.get(name)
    repository, setting = choose_repository(
        name, override.repository if override else None, layout.spec_path(spec.name)
    )
    return ChartSource(
        release=name,
        # The pin's chart name: a release installed from a folder mirror records the archive's path.
        chart=CHARTS[name].chart,
        version=str(inputs["version"]),
        repository=repository,
        setting=setting,
    )


def render_charts(
    repo: Repo,
    spec: EnvironmentSpec,
    declared: Sequence[Declared],
    out: Path,
    crd_out: Path,
    *,
    summaries: Sequence[dict[str, Any]] = (),
) -> ChartCounts:
    """Render and write every release; exemptions apply to its objects and to its one-line summary
    (`summaries`, annotated in place)."""
    helm = toolchain.require_tool(repo, "helm")
    cache = repo.local_dir / "charts"
    releases = [
        Release(
            name=str(d.inputs["name"]),
            namespace=str(d.inputs["namespace"]),
            archive=fetch(chart_source(repo, spec, d), cache, helm),
            values=d.inputs.get("values") or {},
        )
        for d in declared
    ]
    rendered = render_releases(helm, releases, target_kube_version(repo))
    by_release = {r.name: [*r.objects] for r in rendered}
    for summary in summaries:
        by_release.setdefault(summary["metadata"]["name"], []).append(summary)
    annotations = chart_exemptions.apply(chart_exemptions.load(repo.root), spec.name, by_release)
    for release in rendered:
        _write(out / f"{release.name}.yaml", sorted(release.objects, key=_order))
        if release.crds:
            _write(crd_out / f"{release.name}.yaml", sorted(release.crds, key=_order))
    return ChartCounts(
        objects={r.name: len(r.objects) for r in rendered},
        crds={r.name: len(r.crds) for r in rendered},
        exemptions=annotations,
    )


# libyaml's emitter: the charts' CRDs are megabytes, which the pure-Python one takes long to write.
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _write(path: Path, documents: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as stream:
        yaml.dump_all(documents, stream, Dumper=_Dumper, sort_keys=False, width=4096)


def _order(obj: dict[str, Any]) -> tuple[str, str, str]:
    metadata = obj.get("metadata", {})
    return (metadata.get("namespace", ""), obj.get("kind", ""), metadata.get("name", ""))
