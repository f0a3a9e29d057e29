"""`helm template` of each release the program declares: the pinned chart, exactly the values the
program passes, the release's name and namespace, and the target cluster's capabilities.

Capabilities are the target's Kubernetes version and the API versions of every CRD the platform's
charts install, so a chart that only renders its ServiceMonitor when `monitoring.coreos.com/v1`
exists renders it here as it will in the cluster. Those CRDs come from the charts themselves: a
first pass collects them, a second renders with them.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from meridian_core.errors import RefusedError

from meridian import toolchain
from meridian.render.chart_sources import helm_env

HELM_TIMEOUT = 300


class ChartLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading, plus YAML 1.1's `=` (the "value" tag) read as the string it is in CRD enums."""


ChartLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
# Kinds of the Kubernetes API itself that live outside namespaces; CRDs say their own scope.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CSIDriver",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
    }
)


@dataclass(frozen=True)
class Release:
    """One Helm release as the program declares it."""

    name: str
    namespace: str
    archive: Path
    values: dict[str, Any]


@dataclass
class RenderedRelease:
    name: str
    objects: list[dict[str, Any]] = field(default_factory=list)  # everything but CRDs
    crds: list[dict[str, Any]] = field(default_factory=list)


def template(
    helm: str, release: Release, kube_version: str, api_versions: Iterable[str]
) -> list[dict[str, Any]]:
    """Every document `helm template` renders for the release (hooks and CRDs included, tests not)."""
    with tempfile.TemporaryDirectory(prefix="meridian-helm-") as tmp:
        values = Path(tmp) / "values.json"
        values.write_text(json.dumps(release.values))  # JSON is YAML: no quoting surprises
        command = [
            helm,
            "template",
            release.name,
            str(release.archive),
            "--namespace",
            release.namespace,
            "--values",
            str(values),
            "--kube-version",
            kube_version,
            "--include-crds",
            "--skip-tests",
        ]
        for api_version in sorted(set(api_versions)):
            command += ["--api-versions", api_version]
        try:
            proc = toolchain.run(command, env=helm_env(Path(tmp) / "home"), timeout=HELM_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise RefusedError(f"helm template {release.name} took over {HELM_TIMEOUT}s") from None
    if proc.returncode != 0:
        raise RefusedError(
            f"helm template of release {release.name} ({release.archive.name}) failed with the "
            f"program's values: {' '.join(proc.stderr.split())[:600]}",
            hint="the chart refuses these values; fix them where infra/meridian_infra declares the release",
        )
    try:
        docs = yaml.load_all(proc.stdout, Loader=ChartLoader)
        return [doc for doc in docs if isinstance(doc, dict) and doc.get("kind")]
    except yaml.YAMLError as exc:
        raise RefusedError(f"helm template {release.name} printed YAML that does not parse: {exc}") from None


def crd_api_versions(crds: Iterable[dict[str, Any]]) -> set[str]:
    """`group/version` and `group/version/Kind` of every served version, as `--api-versions` takes them."""
    found: set[str] = set()
    for crd in crds:
        spec = crd.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        for version in spec.get("versions") or []:
            if group and kind and version.get("served", True):
                found |= {f"{group}/{version['name']}", f"{group}/{version['name']}/{kind}"}
    return found


def cluster_scoped(crds: Iterable[dict[str, Any]]) -> frozenset[str]:
    custom = {
        (crd.get("spec") or {}).get("names", {}).get("kind")
        for crd in crds
        if (crd.get("spec") or {}).get("scope") == "Cluster"
    }
    return CLUSTER_SCOPED_KINDS | {k for k in custom if k}


def readable_secret(doc: dict[str, Any]) -> dict[str, Any]:
    """A chart's Secret with its `data` decoded into `stringData`, which the API server stores the
    same way: reviewers and the secret scan read the values, which offline are the program's
    placeholders ("<generated at deploy time>"), instead of base64 that hides what they are."""
    if doc["kind"] != "Secret" or not doc.get("data"):
        return doc
    try:
        decoded = {k: base64.b64decode(v, validate=True).decode() for k, v in doc["data"].items()}
    except (ValueError, UnicodeDecodeError):
        return doc  # binary data (a keystore, a certificate bundle) stays as the chart wrote it
    readable = {k: v for k, v in doc.items() if k != "data"}
    readable["stringData"] = {**(doc.get("stringData") or {}), **decoded}
    return readable


def render_releases(
    helm: str, releases: Sequence[Release], kube_version: str, workers: int = 2
) -> list[RenderedRelease]:
    """Render every release twice: once to learn the CRDs the charts install, once with them."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        first = list(pool.map(lambda r: template(helm, r, kube_version, ()), releases))
        crds = [doc for docs in first for doc in docs if doc["kind"] == "CustomResourceDefinition"]
        api_versions = crd_api_versions(crds)
        second = list(pool.map(lambda r: template(helm, r, kube_version, api_versions), releases))
    scoped = cluster_scoped(crds)
    rendered = []
    for release, docs in zip(releases, second, strict=True):
        out = RenderedRelease(release.name)
        for doc in docs:
            if doc["kind"] == "CustomResourceDefinition":
                out.crds.append(doc)
                continue
            metadata = doc.setdefault("metadata", {})
            # Helm installs namespaced objects into the release namespace when the template names none.
            if doc["kind"] not in scoped and not metadata.get("namespace"):
                metadata["namespace"] = release.namespace
            out.objects.append(readable_secret(doc))
        rendered.append(out)
    return rendered
