"""The platform half of a render: the Pulumi program's objects, recorded offline, as YAML, and the
objects each of its Helm releases installs, rendered through the pinned chart (`render.charts`)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from meridian_core.layout import RENDERED_CHARTS, Repo
from meridian_core.yamlio import write_all
from meridian_infra.offline import Declared, record_platform
from meridian_infra.spec import EnvironmentSpec

from meridian.render.charts import ChartCounts, render_charts

SUMMARY_API = "meridian.dev/v1alpha1"


def render_platform(
    spec: EnvironmentSpec, out: Path, charts_from: Repo | None = None, crd_out: Path | None = None
) -> tuple[list[Path], ChartCounts | None]:
    """Write the program's objects under `out`; with `charts_from` (the checkout whose Helm and chart
    settings to use) also every release's chart objects under out/charts and its CRDs in `crd_out`."""
    _, recording = record_platform(spec)
    by_component: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for declared in recording.kubernetes_objects():
        by_component[declared.component].append(declared.inputs)
    written = []
    for component, objects in sorted(by_component.items()):
        path = out / f"{component}.yaml"
        write_all(path, sorted(objects, key=_order))
        written.append(path)
    releases = [helm_release_summary(d) for d in recording.helm_releases()]
    counts = None
    if charts_from is not None and recording.helm_releases():
        crds = crd_out if crd_out is not None else out / "crds"
        counts = render_charts(
            charts_from, spec, recording.helm_releases(), out / RENDERED_CHARTS, crds, summaries=releases
        )
        written += sorted((out / RENDERED_CHARTS).glob("*.yaml"))
    if releases:
        write_all(out / "helm-releases.yaml", releases)
        written.append(out / "helm-releases.yaml")
    patches = [patch_summary(d) for d in recording.patches()]
    if patches:
        write_all(out / "patches.yaml", patches)
        written.append(out / "patches.yaml")
    return written, counts


def helm_release_summary(declared: Declared) -> dict[str, Any]:
    """A Helm release as the gate sees it: chart, pinned version, repository and values."""
    inputs = declared.inputs
    return {
        "apiVersion": SUMMARY_API,
        "kind": "HelmRelease",
        "metadata": {"name": inputs["name"], "namespace": inputs["namespace"]},
        "spec": {
            "chart": inputs["chart"],
            "version": inputs.get("version"),
            "repository": inputs.get("repositoryOpts", {}).get("repo"),
            "values": inputs.get("values", {}),
        },
    }


def patch_summary(declared: Declared) -> dict[str, Any]:
    """A patch of an object the platform does not own (kube-proxy's), kept apart from whole objects."""
    inputs = declared.inputs
    kind = declared.type.rsplit(":", 1)[-1].removesuffix("Patch")
    return {
        "apiVersion": SUMMARY_API,
        "kind": "Patch",
        "metadata": {"name": f"{kind.lower()}-{inputs['metadata']['name']}"},
        "spec": {
            "target": {
                "apiVersion": inputs["apiVersion"],
                "kind": kind,
                "namespace": inputs["metadata"].get("namespace"),
                "name": inputs["metadata"]["name"],
            },
            "patch": {k: v for k, v in inputs.items() if k not in ("apiVersion", "kind")},
        },
    }


def _order(obj: dict[str, Any]) -> tuple[str, str, str]:
    metadata = obj.get("metadata", {})
    return (metadata.get("namespace", ""), obj.get("kind", ""), metadata.get("name", ""))
