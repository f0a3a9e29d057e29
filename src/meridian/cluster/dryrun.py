"""Check rendered manifests against a real API server and leave it as it was found.

Every object goes through a server-side apply with dryRun=All: validation, defaulting and every
admission plugin run, and nothing is stored. One exception makes the namespaced checks
meaningful: a dry-run Namespace is never stored, so a dry-run of an object inside it fails with
"namespace not found". The render's namespaces that the cluster does not have yet are therefore
created for real for the duration of the check (empty, exactly as the render declares them, so
Pod Security labels apply) and deleted afterwards; namespaces that exist are dry-run like
everything else and never modified.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from meridian_core.errors import InputError
from meridian_core.yamlio import load_all

from meridian.cluster.api import ApiError, KubeApi
from meridian.cluster.discovery import Discovery, group_of, object_path
from meridian.cluster.scaffold import FIELD_MANAGER, Scaffold

SUMMARY_API = "meridian.dev/v1alpha1"  # the render's summaries (Helm releases, patches), not objects
CRD_KIND = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
CRD_ESTABLISHED_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Manifest:
    """One object of a rendered folder, with the file it came from."""

    source: Path
    body: dict[str, Any]

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.body.get("metadata", {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        value = self.body.get("metadata", {}).get("namespace")
        return str(value) if value else None

    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass(frozen=True)
class Outcome:
    manifest: Manifest
    verdict: Verdict
    reason: str = ""
    warnings: tuple[str, ...] = ()


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    created_namespaces: list[str] = field(default_factory=list)  # for the check, deleted after it
    left_behind: list[str] = field(default_factory=list)  # created, but not gone in time
    summaries: int = 0

    def count(self, verdict: Verdict) -> int:
        return sum(1 for o in self.outcomes if o.verdict is verdict)


class Verdict(StrEnum):
    """What the API server's dry run made of one object (unchecked: its kind is not served yet)."""

    CHECKED = "checked"
    REJECTED = "rejected"
    UNCHECKED = "unchecked"


def load_manifests(folder: Path) -> tuple[list[Manifest], int]:
    """Objects from every YAML file under `folder`, and how many summaries were skipped."""
    manifests: list[Manifest] = []
    summaries = 0
    for path in sorted(folder.rglob("*.yaml")):
        for document in _documents(path):
            if document.get("apiVersion") == SUMMARY_API:
                summaries += 1
                continue
            manifest = Manifest(path, document)
            if not manifest.api_version or not manifest.kind or not manifest.name:
                raise InputError(f"{path}: an object without apiVersion, kind or metadata.name")
            manifests.append(manifest)
    return manifests, summaries


def _documents(path: Path) -> list[dict[str, Any]]:
    try:
        documents = load_all(path.read_text())
    except Exception as exc:  # ruamel raises many unrelated types for bad YAML
        raise InputError(f"{path}: not readable as YAML: {exc}") from None
    for document in documents:
        if not isinstance(document, dict):
            raise InputError(f"{path}: a document that is not a mapping")
    return documents


def install_crds(api: KubeApi, folder: Path | None, scaffold: Scaffold) -> list[str]:
    """Create the CRDs found under `folder` that the cluster lacks (the scaffold removes them
    again) and wait until each is served; return their names."""
    if folder is None or not folder.is_dir():
        return []
    crds, _ = load_manifests(folder)
    for crd in crds:
        if (crd.api_version, crd.kind) != CRD_KIND:
            raise InputError(
                f"{crd.source}: {crd.label()} is not a CustomResourceDefinition",
                hint="the CRD folder holds CRDs only",
            )
    installed = []
    for crd in crds:
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd.name}"
        if api.exists(path):
            continue  # installed by someone else: served already, and not ours to change
        try:
            scaffold.create(crd.name, path, crd.body)
        except ApiError as exc:
            raise InputError(f"{crd.source}: CRD {crd.name} was rejected: {exc.message}") from None
        installed.append(crd.name)
    for name in installed:
        _wait_established(api, name)
    return installed


def _wait_established(api: KubeApi, name: str) -> None:
    deadline = time.monotonic() + CRD_ESTABLISHED_TIMEOUT_S
    while time.monotonic() < deadline:
        body = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        # A CRD read right after its creation has a status whose conditions are still null.
        conditions = (body.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return
        time.sleep(0.2)
    raise InputError(f"CRD {name} was not established within {CRD_ESTABLISHED_TIMEOUT_S:.0f}s")


def check(api: KubeApi, manifests: list[Manifest]) -> Report:
    discovery = Discovery(api)
    report = Report()
    namespaces = [m for m in manifests if (m.api_version, m.kind) == ("v1", "Namespace")]
    with Scaffold(api) as scaffold:
        for manifest in namespaces:
            report.outcomes.append(_namespace(api, scaffold, manifest))
        for manifest in manifests:
            if manifest not in namespaces:
                report.outcomes.append(_object(api, discovery, manifest))
        report.created_namespaces = scaffold.names
    report.left_behind = scaffold.left_behind
    return report


def _namespace(api: KubeApi, scaffold: Scaffold, manifest: Manifest) -> Outcome:
    path = f"/api/v1/namespaces/{manifest.name}"
    try:
        existing: dict[str, Any] | None = api.get(path)
    except ApiError as exc:
        if exc.status != 404:
            raise
        existing = None
    if existing is not None and existing.get("status", {}).get("phase") == "Terminating":
        # Being deleted (by an earlier check that was cut short, or by someone): wait, then create.
        if not scaffold.wait_gone(path):
            return Outcome(manifest, Verdict.UNCHECKED, f"namespace {manifest.name} is still being deleted")
        existing = None
    if existing is not None:
        return _apply(api, manifest, path)
    try:
        scaffold.create(manifest.name, path, manifest.body)
    except ApiError as exc:
        return Outcome(manifest, Verdict.REJECTED, exc.message)
    return Outcome(manifest, Verdict.CHECKED)


def _object(api: KubeApi, discovery: Discovery, manifest: Manifest) -> Outcome:
    resource = discovery.resource(manifest.api_version, manifest.kind)
    if resource is None:
        return _not_served(discovery, manifest)
    # Argo CD puts an object without a namespace into its Application's; `default` is what
    # kubectl would use, and a namespaced object must be checked somewhere.
    namespace = (manifest.namespace or "default") if resource.namespaced else None
    return _apply(api, manifest, object_path(manifest.api_version, resource, manifest.name, namespace))


def _not_served(discovery: Discovery, manifest: Manifest) -> Outcome:
    if discovery.built_in(manifest.api_version):
        # A built-in group without this kind or version: a real cluster would refuse it too.
        return Outcome(
            manifest, Verdict.REJECTED, f"the API server serves no {manifest.kind} in {manifest.api_version}"
        )
    group = group_of(manifest.api_version)
    return Outcome(manifest, Verdict.UNCHECKED, f"CRD not installed: {group}/{manifest.kind}")


def _apply(api: KubeApi, manifest: Manifest, path: str) -> Outcome:
    try:
        reply = api.apply(path, manifest.body, dry_run=True, manager=FIELD_MANAGER)
    except ApiError as exc:
        return Outcome(manifest, Verdict.REJECTED, exc.message)
    return Outcome(manifest, Verdict.CHECKED, warnings=tuple(reply.warnings))
