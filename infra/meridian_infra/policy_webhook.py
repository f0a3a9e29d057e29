"""The policy gate's Rego rules, enforced by the API server: OPA as a validating admission webhook.

OPA runs with the same files the gate's conftest reads (policies/rego), the adapter that turns an
AdmissionReview into the gate's input and its findings into an answer (policies/admission), the
chart exemptions (policies/exemptions/charts.yaml) and the environment's own data: its name and its
Namespaces and NetworkPolicies, which the gate shows the rules when it checks a file for an
environment (meridian.policy.context). The program reads the files from the repository into a
ConfigMap, so what the cluster enforces is what the commit it deploys says.

Three webhooks share the one OPA:

- app namespaces (`meridian.dev/tier: app`): fail closed outside dev, so nothing reaches an app
  namespace of staging or prod unjudged; open in dev, where a stopped webhook must not stop work;
- platform namespaces (`meridian.dev/tier: platform`): fail open everywhere, so no platform chart
  waits for a webhook that may itself be waiting for the platform;
- cluster-wide RBAC (ClusterRoles and their bindings): fail open, Kubernetes' own left out.

None is called for what Kubernetes makes itself (requests by its control plane and kube-system's
controllers) nor for what a controller makes for an owner (a Deployment's ReplicaSets and Pods, a
CronJob's Jobs): the owner was judged when it was admitted, with its exemptions, which the objects
made from it do not carry. A down webhook therefore never stops a ReplicaSet from replacing a pod.

On a real cluster (kind, existing) OPA runs as a Deployment behind the Service, with a serving
certificate from a CA of the stack's own (tls.py). On the local control plane (`meridian cluster up
--local`) OPA runs as a process on loopback with a certificate from the cluster's CA, and the
egress proxy forwards the Service to it; there the program declares only the Service (no selector)
and the webhook configuration, whose caBundle is the cluster's CA from the kubeconfig.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pulumi
from meridian_core import layout
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from meridian_infra import admission, sizing
from meridian_infra import namespaces as ns
from meridian_infra.charts import CHARTS
from meridian_infra.cluster import ClusterConnection
from meridian_infra.network_policies import ADMISSION_NAMESPACE, APP_NAME_LABEL
from meridian_infra.objects import TIER_LABEL, Manifest, declare, manifest, restricted_container
from meridian_infra.spec.models import ClusterType, ContainerSize, EnvironmentSpec
from meridian_infra.tls import StackCertificates

NAMESPACE = ADMISSION_NAMESPACE
SERVICE = "opa"
SERVICE_PORT = 443
CONTAINER_PORT = 8443
CONFIGURATION = "meridian-admission"
POLICIES_CONFIGMAP = "opa-policies"
TLS_SECRET = "opa-tls"  # noqa: S105 - a name, not a secret
# The same OPA as bin/opa and the conftest of the gate (tools/go/go.mod); a test keeps them in step.
# No digest: none can be read from the registry where this is written; MER-IMG-002 warns until one
# is added (policies/README.md, "Admission").
OPA_VERSION = "1.21.1"
IMAGE = f"openpolicyagent/opa:{OPA_VERSION}-static"
LABELS = {APP_NAME_LABEL: "opa"}
UID = 10001
SIZE = ContainerSize(cpu_request="50m", memory_request="96Mi", cpu_limit="500m", memory_limit="256Mi")

# What the gate's rules judge, by API group (the kinds of policies/rego/rules). Secrets and
# ConfigMaps are not sent: the one rule about Secrets is CI's (catalog.ci_only), and Helm, the
# service-account token controller and Vault write both all day.
NAMESPACED_RESOURCES: dict[str, list[str]] = {
    "": ["pods", "services", "replicationcontrollers"],
    "apps": ["deployments", "statefulsets", "daemonsets", "replicasets"],
    "batch": ["jobs", "cronjobs"],
    "networking.k8s.io": ["ingresses", "networkpolicies"],
    "rbac.authorization.k8s.io": ["roles", "rolebindings"],
    "policy": ["poddisruptionbudgets"],
    "autoscaling": ["horizontalpodautoscalers"],
    "argoproj.io": ["applications", "applicationsets", "appprojects"],
}
CLUSTER_RESOURCES: dict[str, list[str]] = {
    "rbac.authorization.k8s.io": ["clusterroles", "clusterrolebindings"],
}

# CEL, evaluated by the API server before it calls: requests it answers false to never reach OPA.
MATCH_CONDITIONS = [
    {
        "name": "not-kubernetes-itself",
        "expression": (
            "!(request.userInfo.username in ['system:apiserver', 'system:kube-controller-manager', "
            "'system:kube-scheduler'] || "
            "request.userInfo.username.startsWith('system:serviceaccount:kube-system:'))"
        ),
    },
    {
        "name": "not-made-by-a-controller-for-its-owner",
        "expression": (
            "!(request.userInfo.username.startsWith('system:serviceaccount:') && "
            "has(object.metadata.ownerReferences) && "
            "object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller))"
        ),
    },
]
# Kubernetes reserves the `system:` prefix for its own RBAC objects and labels its defaults.
CLUSTER_MATCH_CONDITIONS = [
    *MATCH_CONDITIONS,
    {"name": "not-a-system-role", "expression": "!object.metadata.name.startsWith('system:')"},
]
BOOTSTRAP_RBAC = {"key": "kubernetes.io/bootstrapping", "operator": "NotIn", "values": ["rbac-defaults"]}

# The files OPA loads, relative to the repository: the rules, the adapter, the chart exemptions.
POLICY_DIRS = (layout.GATE_POLICIES, layout.ADMISSION_POLICIES)
CHART_EXEMPTIONS = layout.CHART_EXEMPTIONS_FILE
# Inside the container: the ConfigMap's files keep their repository paths under here.
MOUNT = PurePosixPath("/bundle")
TLS_MOUNT = PurePosixPath("/tls")
DATA_FILE = "admission.json"

TLS_EXEMPTION = (
    "expires=2027-06-30; reason=issued at deploy time by the stack's own CA (tls.py) and kept in its "
    "encrypted state; the render holds a placeholder, never a key"
)


class PolicyWebhookNotConfigured(ValueError):
    def __init__(self, spec: EnvironmentSpec) -> None:
        super().__init__(
            f"{layout.spec_path(spec.name)}: platformNamespaces has no {NAMESPACE}, where the "
            f"admission webhook runs; add `{NAMESPACE}: {{podSecurity: restricted, cpu: 500m, memory: "
            "512Mi, pods: 6}`"
        )


def service_host() -> str:
    return f"{SERVICE}.{NAMESPACE}.svc"


# ---- what OPA is given ---------------------------------------------------------------------------


def opa_arguments(
    *, address: str, cert: str, key: str, root: PurePosixPath | Path, data_file: str, watch: bool
) -> list[str]:
    """`opa run` as the webhook: the Deployment's container and the local process both use this.

    `--authorization=basic` makes OPA ask policies/admission/authz.rego about every request, which
    lets through only the webhook's POST / and the health check: OPA's API for replacing policies
    and data is not served to anyone."""
    return [
        "run",
        "--server",
        f"--addr={address}",
        f"--tls-cert-file={cert}",
        f"--tls-private-key-file={key}",
        "--authorization=basic",
        # Never asks GitHub for a newer release: the webhook talks to the API server only.
        "--skip-version-check",
        "--log-level=error",
        "--log-format=json",
        # Editors' backup and lock files beside the policies are not policies.
        "--ignore=.*",
        *(["--watch"] if watch else []),
        *(str(root / d) for d in POLICY_DIRS),
        f"admission.charts:{root / CHART_EXEMPTIONS}",
        f"admission:{data_file}",
    ]


def context_objects(spec: EnvironmentSpec) -> list[Manifest]:
    """The environment's Namespaces and NetworkPolicies, as the program declares them: what the gate
    shows the rules of an environment beyond the files it checks (meridian.policy.context)."""
    groups = [ns.platform_namespace_objects(spec, n) for n in spec.platform_namespaces]
    groups += [ns.app_namespace_objects(spec, n) for n in spec.apps]
    return [o for group in groups for o in group if o["kind"] in ("Namespace", "NetworkPolicy")]


def admission_data(environment: str, context: Iterable[Manifest]) -> dict[str, Any]:
    """data.admission for OPA (the charts' exemptions join it from their own file). `releases` are
    the pinned charts as the platform installs them (release, chart, version, namespace): how a
    Helm hook, which Helm does not annotate with its release, is told apart by its chart label."""
    releases = [
        {"release": key, "chart": pin.chart, "version": pin.version, "namespace": pin.namespace}
        for key, pin in sorted(CHARTS.items())
    ]
    return {"environment": environment, "context": list(context), "releases": releases}


def bundle_files(root: Path) -> dict[str, str]:
    """The repository files OPA loads, by path relative to the repository."""
    files = {
        str(path.relative_to(root)): path.read_text()
        for folder in POLICY_DIRS
        for path in sorted((root / folder).rglob("*.rego"))
    }
    files[CHART_EXEMPTIONS] = (root / CHART_EXEMPTIONS).read_text()
    return files


def _key(path: str) -> str:
    # ConfigMap keys allow no slashes; the volume's items put each file back at its path.
    return path.replace("/", "_")


# ---- the objects ---------------------------------------------------------------------------------


def webhook_configuration(spec: EnvironmentSpec, ca_bundle: pulumi.Input[str]) -> Manifest:
    def rules(resources: dict[str, list[str]], scope: str) -> list[dict[str, Any]]:
        return [
            {
                "apiGroups": [group],
                "apiVersions": ["*"],
                "resources": names,
                "operations": ["CREATE", "UPDATE"],
                "scope": scope,
            }
            for group, names in resources.items()
        ]

    namespaces_rule = rules({"": ["namespaces"]}, "Cluster")
    client = {
        "service": {"namespace": NAMESPACE, "name": SERVICE, "port": SERVICE_PORT, "path": "/"},
        "caBundle": ca_bundle,
    }
    common = {"clientConfig": client, "sideEffects": "None", "admissionReviewVersions": ["v1"]}

    def tier(name: str, tier_value: str, policy: str) -> dict[str, Any]:
        return {
            "name": f"{name}.admission.meridian.dev",
            **common,
            # A Namespace object is matched by its own labels: the namespace is judged too.
            "namespaceSelector": {"matchLabels": {TIER_LABEL: tier_value}},
            "rules": rules(NAMESPACED_RESOURCES, "Namespaced") + namespaces_rule,
            "matchConditions": MATCH_CONDITIONS,
            "failurePolicy": policy,
            "timeoutSeconds": 5,
        }

    return manifest(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        CONFIGURATION,
        labels={"meridian.dev/environment": spec.name},
        webhooks=[
            tier("apps", "app", admission.failure_policy(spec)),
            tier("platform", "platform", admission.IGNORE),
            {
                "name": "cluster.admission.meridian.dev",
                **common,
                "objectSelector": {"matchExpressions": [BOOTSTRAP_RBAC]},
                "rules": rules(CLUSTER_RESOURCES, "Cluster"),
                "matchConditions": CLUSTER_MATCH_CONDITIONS,
                "failurePolicy": "Ignore",
                "timeoutSeconds": 5,
            },
        ],
    )


def service(*, local: bool) -> Manifest:
    """On the local control plane no pod serves it: the egress proxy forwards it to the process."""
    spec: dict[str, Any] = {
        "type": "ClusterIP",
        "ports": [{"name": "https", "port": SERVICE_PORT, "targetPort": CONTAINER_PORT, "protocol": "TCP"}],
    }
    if not local:
        spec["selector"] = LABELS
    return manifest("v1", "Service", SERVICE, NAMESPACE, labels=LABELS, spec=spec)


def policies_configmap(files: dict[str, str], data: dict[str, Any]) -> Manifest:
    contents = {_key(path): text for path, text in files.items()}
    contents[DATA_FILE] = json.dumps(data, indent=1, sort_keys=True)
    return manifest("v1", "ConfigMap", POLICIES_CONFIGMAP, NAMESPACE, labels=LABELS, data=contents)


def tls_secret(certs: StackCertificates) -> Manifest:
    return manifest(
        "v1",
        "Secret",
        TLS_SECRET,
        NAMESPACE,
        labels=LABELS,
        annotations={"exemption.meridian.dev/MER-SEC-001": TLS_EXEMPTION},
        type="kubernetes.io/tls",
        string_data={"tls.crt": certs.tls_server_cert, "tls.key": certs.tls_server_key},
    )


def service_account() -> Manifest:
    # OPA never calls the API server: no token.
    return manifest(
        "v1", "ServiceAccount", SERVICE, NAMESPACE, labels=LABELS, automount_service_account_token=False
    )


def replicas(spec: EnvironmentSpec) -> int:
    """Where a stopped webhook refuses app namespaces, a drained node must not stop it."""
    return 2 if admission.failure_policy(spec) == admission.FAIL else 1


def deployment(spec: EnvironmentSpec, files: dict[str, str], data: dict[str, Any]) -> Manifest:
    probe = {"httpGet": {"path": "/health", "port": CONTAINER_PORT, "scheme": "HTTPS"}, "periodSeconds": 10}
    items = [{"key": _key(path), "path": path} for path in sorted(files)]
    items.append({"key": DATA_FILE, "path": f"data/{DATA_FILE}"})
    # A changed rule or exemption changes the pod template, so the pods restart with it.
    digest = hashlib.sha256(json.dumps([files, data], sort_keys=True).encode()).hexdigest()
    container = {
        "name": "opa",
        "image": IMAGE,
        "args": opa_arguments(
            address=f":{CONTAINER_PORT}",
            cert=str(TLS_MOUNT / "tls.crt"),
            key=str(TLS_MOUNT / "tls.key"),
            root=MOUNT,
            data_file=str(MOUNT / "data" / DATA_FILE),
            watch=False,
        ),
        "ports": [{"name": "https", "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "initialDelaySeconds": 10},
        "resources": sizing.resources(SIZE),
        "securityContext": restricted_container(UID),
        "volumeMounts": [
            {"name": "bundle", "mountPath": str(MOUNT), "readOnly": True},
            {"name": "tls", "mountPath": str(TLS_MOUNT), "readOnly": True},
        ],
    }
    pod = {
        "serviceAccountName": SERVICE,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": LABELS},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
        "containers": [container],
        "volumes": [
            {"name": "bundle", "configMap": {"name": POLICIES_CONFIGMAP, "items": items}},
            {"name": "tls", "secret": {"secretName": TLS_SECRET}},
        ],
    }
    return manifest(
        "apps/v1",
        "Deployment",
        SERVICE,
        NAMESPACE,
        labels=LABELS,
        spec={
            "replicas": replicas(spec),
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS, "annotations": {"checksum/policies": digest}},
                "spec": pod,
            },
        },
    )


def disruption_budget() -> Manifest:
    return manifest(
        "policy/v1",
        "PodDisruptionBudget",
        SERVICE,
        NAMESPACE,
        labels=LABELS,
        spec={"maxUnavailable": 1, "selector": {"matchLabels": LABELS}},
    )


def local_ca_bundle(kubeconfig: str) -> str:
    """The local control plane's CA (the kubeconfig embeds it, base64 already): what the API server
    trusts the loopback webhook's certificate by. A kubeconfig without one (the offline render's
    placeholder) gives a placeholder."""
    try:
        config = YAML(typ="safe").load(kubeconfig)
        return str(config["clusters"][0]["cluster"]["certificate-authority-data"])
    except (YAMLError, KeyError, IndexError, TypeError):
        return base64.b64encode(b"<the local cluster's CA>").decode()


def local_registration(spec: EnvironmentSpec, kubeconfig: str) -> list[Manifest]:
    """What the program declares for `spec` on the local control plane (the webhook's namespace, as
    the Namespaces component declares it, the Service and the configuration), for `meridian cluster
    up --local --admission ENV` to apply without running the program."""
    if NAMESPACE not in spec.platform_namespaces:
        raise PolicyWebhookNotConfigured(spec)
    namespace = ns.platform_namespace_objects(spec, NAMESPACE)[0]
    return [namespace, service(local=True), webhook_configuration(spec, local_ca_bundle(kubeconfig))]


def _b64(pem: str | None) -> str:
    # None only under mocks that compute no certificates.
    return base64.b64encode((pem or "").encode()).decode()


class AdmissionCertificates(StackCertificates, module="tls", name="AdmissionCertificates"):
    """The CA the webhook configuration's caBundle holds, and OPA's serving certificate."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        host = service_host()
        super().__init__(name, host, [host, f"{host}.cluster.local"], opts)


class PolicyWebhook(pulumi.ComponentResource):
    """OPA with the gate's policies, and its registration with the API server."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        cluster: ClusterConnection,
        namespaces: Mapping[str, pulumi.Resource],
        root: Path,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("meridian:platform:PolicyWebhook", "policy-webhook", None, opts)
        if NAMESPACE not in spec.platform_namespaces:
            raise PolicyWebhookNotConfigured(spec)
        namespace = namespaces[NAMESPACE]
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        local = cluster.type is ClusterType.LOCAL
        served_by: list[pulumi.Resource] = [declare(service(local=local), in_namespace)]
        if local:
            ca_bundle: pulumi.Input[str] = cluster.kubeconfig.apply(local_ca_bundle)
        else:
            certs = AdmissionCertificates("admission-tls", pulumi.ResourceOptions(parent=self))
            ca_bundle = certs.tls_ca_cert.apply(_b64)
            files = bundle_files(root)
            data = admission_data(spec.name, context_objects(spec))
            config = [
                declare(policies_configmap(files, data), in_namespace),
                declare(tls_secret(certs), in_namespace),
                declare(service_account(), in_namespace),
            ]
            declare(disruption_budget(), in_namespace)
            served_by.append(
                declare(
                    deployment(spec, files, data),
                    pulumi.ResourceOptions(parent=self, depends_on=[namespace, *config]),
                )
            )
        # Registered once OPA answers: before, the app namespaces of staging and prod would refuse all.
        self.configuration = declare(
            webhook_configuration(spec, ca_bundle),
            pulumi.ResourceOptions(parent=self, depends_on=served_by),
        )
        self.register_outputs({})
