"""Argo CD: the Helm release, one AppProject per environment, and the ApplicationSet that syncs apps from git.

Pulumi bootstraps Argo CD and the rules it runs under; from there Argo CD owns the workloads. The
AppProject keeps apps inside their own namespaces and away from cluster-scoped and platform-owned kinds.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

import pulumi
from meridian_core import layout

from meridian_infra import sizing
from meridian_infra.helm import Charts
from meridian_infra.objects import ENVIRONMENT_LABEL, Manifest, declare, manifest
from meridian_infra.passwords import generated_password
from meridian_infra.spec.models import EnvironmentSpec

NAMESPACE = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
# Kinds the platform owns in app namespaces; an app's manifests may not create or change them.
# The platform owns each app namespace's quota, limits and network policies (namespaces.py): an
# app's manifests may not bring their own, so none can widen "only orders may call inventory".
PLATFORM_OWNED_KINDS = [
    {"group": "", "kind": "ResourceQuota"},
    {"group": "", "kind": "LimitRange"},
    {"group": "networking.k8s.io", "kind": "NetworkPolicy"},
]


# A local run points Argo CD at the loopback git server of `meridian cluster up --local --gitops`
# without editing the committed spec; only a loopback URL is accepted, so no stray setting can send a
# real environment's Argo CD elsewhere.
REPO_URL_ENV = "MERIDIAN_ARGOCD_REPO_URL"
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def repo_url(spec: EnvironmentSpec) -> str:
    override = os.environ.get(REPO_URL_ENV, "").strip()
    if not override:
        return spec.argocd.repo_url
    if urllib.parse.urlsplit(override).hostname not in _LOOPBACK_HOSTS:
        raise ValueError(
            f"{REPO_URL_ENV}={override}: only a repository on loopback ({', '.join(_LOOPBACK_HOSTS)}) "
            f"may replace the spec's argocd.repoURL ({spec.argocd.repo_url})"
        )
    return override


def project_name(env: str) -> str:
    return f"meridian-{env}"


def apps_path(env: str) -> str:
    return layout.overlays_path(env)


# The options of every `kustomize build` of an app overlay: Argo CD's repo-server (argocd-cm
# `kustomize.buildOptions`, what the cluster gets) and `meridian render` (what the policy gate checks)
# use this one value, so the two renders cannot drift apart. Overlays may read files only inside
# their own folder; other kustomizations (the apps' bases) are reached as resources.
KUSTOMIZE_BUILD_OPTIONS: tuple[str, ...] = ("--load-restrictor", "LoadRestrictionsRootOnly")


def kustomize_build_options() -> str:
    """argocd-cm's `kustomize.buildOptions`: the options space-separated, as Argo CD reads them."""
    return " ".join(KUSTOMIZE_BUILD_OPTIONS)


def application_set_name(env: str) -> str:
    return f"apps-{env}"


# The chart's own probes for these components, which it leaves off by default.
PROBES = {"readinessProbe": {"enabled": True}, "livenessProbe": {"enabled": True}}


def helm_values(spec: EnvironmentSpec, admin_password_bcrypt: pulumi.Input[str]) -> dict[str, Any]:
    replicas = 2 if spec.argocd.ha else 1
    values: dict[str, Any] = {
        "global": {"domain": f"argocd.{spec.name}.meridian.internal"},
        "configs": {
            "secret": {"argocdServerAdminPassword": admin_password_bcrypt},
            "params": {"application.namespaces": ""},
            "cm": {
                "exec.enabled": False,
                "admin.enabled": True,
                "kustomize.buildOptions": kustomize_build_options(),
            },
        },
        "dex": {"enabled": False},
        "server": {"replicas": replicas, "resources": sizing.resources(sizing.SERVICE)},
        # Renders manifests (kustomize, git): the busiest component after the controller.
        "repoServer": {"replicas": replicas, "resources": sizing.resources(sizing.WORKER)},
        "applicationSet": {
            "replicas": replicas,
            "resources": sizing.resources(sizing.CONTROLLER),
            **PROBES,
        },
        # More than one application controller means sharding clusters between them; the chart
        # sets ARGOCD_CONTROLLER_REPLICAS from this value.
        "controller": {"replicas": replicas, "resources": sizing.resources(sizing.WORKER)},
        "notifications": {"resources": sizing.resources(sizing.CONTROLLER), **PROBES},
        "redis": {
            "resources": sizing.resources(sizing.SERVICE),
            "serviceAccount": {"create": True, "automountServiceAccountToken": False},
            **PROBES,
        },
        "redisSecretInit": {"resources": sizing.resources(sizing.CONTROLLER)},
    }
    if spec.argocd.ha:
        # Argo CD's documented HA layout: redis-ha with its HAProxy, replicas spread over nodes,
        # and disruption budgets so node drains never take every replica at once.
        values["redis-ha"] = {
            "enabled": True,
            "redis": {"resources": sizing.resources(sizing.SERVICE)},
            "sentinel": {"resources": sizing.resources(sizing.SIDECAR)},
            "init": {"resources": sizing.resources(sizing.SIDECAR)},
            "splitBrainDetection": {"resources": sizing.resources(sizing.SIDECAR)},
            "haproxy": {
                "resources": sizing.resources(sizing.CONTROLLER),
                "init": {"resources": sizing.resources(sizing.SIDECAR)},
            },
        }
        values["redis"] = {"enabled": False}
        for component in ("server", "repoServer", "applicationSet", "controller"):
            values[component]["pdb"] = {"enabled": True, "minAvailable": 1}
        values["global"]["affinity"] = {"podAntiAffinity": "hard"}
    return values


def _environment_object(spec: EnvironmentSpec, kind: str, name: str, body: dict[str, Any]) -> Manifest:
    """An Argo CD object of one environment, in Argo CD's namespace, labelled with the environment."""
    labels = {ENVIRONMENT_LABEL: spec.name}
    return manifest("argoproj.io/v1alpha1", kind, name, NAMESPACE, labels=labels, spec=body)


def app_project(spec: EnvironmentSpec) -> Manifest:
    return _environment_object(
        spec,
        "AppProject",
        project_name(spec.name),
        {
            "description": f"Apps of the {spec.name} environment, synced from {apps_path(spec.name)}",
            "sourceRepos": [repo_url(spec)],
            "destinations": [{"server": IN_CLUSTER, "namespace": app} for app in spec.apps],
            "clusterResourceWhitelist": [],
            "namespaceResourceBlacklist": PLATFORM_OWNED_KINDS,
            "orphanedResources": {"warn": True},
        },
    )


def sync_policy(spec: EnvironmentSpec) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "syncOptions": [
            "CreateNamespace=false",
            "ServerSideApply=true",
            "PruneLast=true",
            "RespectIgnoreDifferences=true",
        ],
        "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
    }
    if spec.argocd.sync.automated:
        policy["automated"] = {"prune": spec.argocd.sync.prune, "selfHeal": spec.argocd.sync.self_heal}
    return policy


def application_set(spec: EnvironmentSpec) -> Manifest:
    return _environment_object(
        spec,
        "ApplicationSet",
        application_set_name(spec.name),
        {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [
                {
                    "git": {
                        "repoURL": repo_url(spec),
                        "revision": spec.argocd.target_revision,
                        "directories": [{"path": f"{apps_path(spec.name)}/*"}],
                    }
                }
            ],
            "template": {
                "metadata": {
                    "name": "{{.path.basename}}",
                    "labels": {ENVIRONMENT_LABEL: spec.name, "app.kubernetes.io/name": "{{.path.basename}}"},
                },
                "spec": {
                    "project": project_name(spec.name),
                    "source": {
                        "repoURL": repo_url(spec),
                        "targetRevision": spec.argocd.target_revision,
                        "path": "{{.path.path}}",
                    },
                    "destination": {"server": IN_CLUSTER, "namespace": "{{.path.basename}}"},
                    "syncPolicy": sync_policy(spec),
                    # The HPA owns replicas; Argo CD must not fight it.
                    "ignoreDifferences": [
                        {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
                    ],
                },
            },
        },
    )


class ArgoCD(pulumi.ComponentResource):
    def __init__(self, spec: EnvironmentSpec, charts: Charts, opts: pulumi.ResourceOptions) -> None:
        super().__init__("meridian:platform:ArgoCD", "argocd", None, opts)
        password = generated_password("argocd-admin-password", parent=self)
        self.admin_password = password.value
        release = charts.release("argo-cd", helm_values(spec, password.bcrypt_hash), parent=self)
        if release is not None:
            after_release = pulumi.ResourceOptions(parent=self, depends_on=[release])
            project = declare(app_project(spec), after_release)
            declare(
                application_set(spec),
                pulumi.ResourceOptions.merge(
                    after_release, pulumi.ResourceOptions(depends_on=[release, project])
                ),
            )
        self.address = f"https://argocd-server.{NAMESPACE}.svc.cluster.local"
        self.register_outputs({"address": self.address})
