"""How chart CRDs move: the render keeps every CRD the pinned charts carry apart, in build/crds/ENV,
which is what an operator applies before a chart bump (docs/operations.md, "Chart CRDs")."""

from __future__ import annotations

import tarfile

import pytest
import yaml
from meridian_core.layout import Repo
from meridian_infra.offline import record_platform

from meridian.render.chart_sources import fetch
from meridian.render.chart_templates import ChartLoader
from meridian.render.charts import chart_source

ENVS = ["dev", "staging", "prod"]


def _archive_crds(archive, chart):
    """CRD names in the chart's own crds/ folder and in its `crds` subchart, as packaged."""
    names = set()
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            own = parts[:2] == [chart, "crds"]
            subchart = parts[:4] == [chart, "charts", "crds", "crds"]
            if member.isfile() and member.name.endswith((".yaml", ".yml")) and (own or subchart):
                for doc in yaml.load_all(tar.extractfile(member).read(), Loader=ChartLoader):
                    if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                        names.add(doc["metadata"]["name"])
    return names


@pytest.mark.parametrize("env", ENVS)
def test_every_crd_of_every_pinned_chart_is_written_apart_for_the_bump_step(rendered, repo_root, env):
    render = rendered[env]
    _, recording = record_platform(render.spec)
    repo = Repo(repo_root)
    total = 0
    for declared in recording.helm_releases():
        source = chart_source(repo, render.spec, declared)
        packaged = _archive_crds(fetch(source, repo.local_dir / "charts", "helm"), source.chart)
        written = {c["metadata"]["name"] for c in render.crds.get(source.release, [])}
        assert packaged <= written, f"{source.release}: not written {sorted(packaged - written)[:5]}"
        total += len(packaged)
        # CRDs are never among the objects the gate checks.
        assert not render.find("CustomResourceDefinition", release=source.release)
    assert total > 40  # Calico's, the Prometheus operator's, Alloy's
    assert (render.folder / "crds").is_dir()
