"""Hand one environment to the local GitOps loop: the objects the platform program declares for it
(its namespaces, its AppProject and its ApplicationSet), recorded offline with Argo CD pointed at the
loop's git server, applied to the local cluster.

This stands in for `meridian up ENV` while the Argo CD chart is not installed: the program declares
the AppProject and ApplicationSet only after the chart's release. The objects are the program's own,
unchanged but for the repository URL ($MERIDIAN_ARGOCD_REPO_URL, read by meridian_infra.argocd).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from meridian_core.errors import RefusedError
from meridian_core.layout import Repo
from meridian_infra.argocd import NAMESPACE, REPO_URL_ENV, application_set_name
from meridian_infra.offline import record_platform

from meridian.cluster.api import ApiError, KubeApi
from meridian.cluster.discovery import Discovery, object_path
from meridian.environments import load_spec

FIELD_MANAGER = "meridian-gitops"
# The program's components whose objects the loop needs: app namespaces (with their quotas, limit
# ranges and network policies) and Argo CD's AppProject and ApplicationSet.
COMPONENTS = ("namespaces", "argocd")


@dataclass(frozen=True)
class Applied:
    env: str
    objects: list[str]  # "Kind namespace/name"


def environment_objects(repo: Repo, env: str, repo_url: str) -> list[dict[str, Any]]:
    spec = load_spec(repo, env)
    with repo_url_override(repo_url):
        _, recording = record_platform(spec)
    return [d.inputs for d in recording.kubernetes_objects() if d.component in COMPONENTS]


def apply_environment(repo: Repo, api: KubeApi, env: str, repo_url: str) -> Applied:
    objects = environment_objects(repo, env, repo_url)
    discovery = Discovery(api)
    # Namespaces first: everything else lives in one.
    objects.sort(key=lambda o: o["kind"] != "Namespace")
    applied = []
    for obj in objects:
        resource = discovery.resource(obj["apiVersion"], obj["kind"])
        metadata = obj["metadata"]
        label = f"{obj['kind']} {metadata.get('namespace', '')}/{metadata['name']}".replace(" /", " ")
        if resource is None:
            raise RefusedError(
                f"the local cluster does not serve {obj['apiVersion']} {obj['kind']} ({label})",
                hint="`meridian cluster up --local --gitops` installs Argo CD's CRDs",
            )
        path = object_path(obj["apiVersion"], resource, metadata["name"], metadata.get("namespace"))
        try:
            api.apply(path, obj, manager=FIELD_MANAGER)
        except ApiError as exc:
            raise RefusedError(f"{env}: applying {label} failed: {exc.message}") from None
        applied.append(label)
    return Applied(env, applied)


def declared(api: KubeApi, env: str) -> bool:
    """Whether env's ApplicationSet is in the cluster (the program declares it with the Argo CD chart)."""
    name = application_set_name(env)
    # 404 also when the cluster does not serve ApplicationSets yet: then nothing declared it.
    return api.exists(f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/applicationsets/{name}")


@contextlib.contextmanager
def repo_url_override(url: str) -> Iterator[None]:
    """$MERIDIAN_ARGOCD_REPO_URL set to url while the block runs (the program and any `pulumi`
    started meanwhile read it), as it was afterwards."""
    before = os.environ.get(REPO_URL_ENV)
    os.environ[REPO_URL_ENV] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(REPO_URL_ENV, None)
        else:
            os.environ[REPO_URL_ENV] = before
