"""The policy webhook of the local control plane: OPA as a process on loopback, with the gate's own
policies read from this checkout, reached by the API server only through the egress proxy.

`meridian cluster up --local` runs it like any other component (`opa` in `status`). It serves one
environment's policies at a time (dev unless `--admission ENV` chose another; the choice is kept in
the state folder like the ports), with `opa run --watch`, so a rule edited in policies/ judges the
next request. Its serving certificate is issued by the cluster's CA for the Service the program
declares (meridian_infra.policy_webhook), and the egress proxy forwards that Service to it.

The webhook configuration is the platform program's (`meridian up dev` declares it on this cluster
as on any other); `up --local --admission ENV` applies the same objects for ENV without the program.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from meridian_core.errors import RefusedError
from meridian_core.layout import Below, Repo
from meridian_core.statefile import read_json_state
from meridian_infra import policy_webhook as pw

from meridian.cluster.api import KubeApi
from meridian.cluster.discovery import Discovery, object_path
from meridian.cluster.egress import EgressFiles, ServiceForward, add_forward
from meridian.cluster.layout import ClusterDir
from meridian.cluster.pki import issue_service_certificate
from meridian.environments import load_spec

NAME = "opa"
DEFAULT_ENVIRONMENT = "dev"
FIELD_MANAGER = "meridian-admission"
_PROBE_UID = "meridian-health-check"


@dataclass(frozen=True)
class WebhookFiles:
    """The webhook's files inside the cluster's state folder."""

    dirs: ClusterDir
    folder = Below("dirs.root", "admission")
    settings = Below("folder", "admission.json")
    data = Below("folder", "data.json")  # data.admission: the environment, its objects
    tls = Below("folder", "tls")

    @property
    def cert(self) -> Path:
        return self.tls / f"{pw.service_host()}.crt"

    @property
    def key(self) -> Path:
        return self.tls / f"{pw.service_host()}.key"

    def environment(self) -> str:
        """The environment whose policies the webhook serves: the last one chosen, else dev."""
        chosen = read_json_state(
            self.settings,
            lambda data: str(data["environment"]),
            hint="`meridian cluster up --local --admission dev` writes it again",
        )
        return chosen or DEFAULT_ENVIRONMENT


def argv(opa: Path, files: WebhookFiles, root: Path, port: int) -> list[str]:
    """The process: the same `opa run` as the Deployment on real clusters, on loopback, watching."""
    return [
        str(opa),
        *pw.opa_arguments(
            address=f"127.0.0.1:{port}",
            cert=str(files.cert),
            key=str(files.key),
            root=root,
            data_file=str(files.data),
            watch=True,
        ),
    ]


def prepare(repo: Repo, files: WebhookFiles, environment: str, port: int) -> None:
    """Write what the process reads (its data, its certificate) and forward the Service to it."""
    spec = load_spec(repo, environment)
    files.folder.mkdir(parents=True, exist_ok=True)
    data = pw.admission_data(spec.name, pw.context_objects(spec))
    _write(files.data, json.dumps(data, indent=1, sort_keys=True) + "\n")
    _write(files.settings, json.dumps({"environment": spec.name}) + "\n")
    issue_service_certificate(files.dirs.pki, files.tls, pw.SERVICE, pw.NAMESPACE)
    forward = ServiceForward(
        namespace=pw.NAMESPACE, service=pw.SERVICE, port=pw.SERVICE_PORT, target=f"127.0.0.1:{port}"
    )
    add_forward(EgressFiles(files.dirs), forward)


def _write(path: Path, text: str) -> None:
    # Whole or not at all: a watching OPA must never load half a file.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def probe_review() -> dict[str, Any]:
    """An AdmissionReview nothing denies: answered, it shows the policies compiled and loaded."""
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": _PROBE_UID,
            "operation": "CREATE",
            "object": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "probe", "namespace": "x"},
            },
        },
    }


def answers(port: int, ca: Path, timeout_s: float) -> bool:
    """OPA answers an AdmissionReview over TLS with a certificate for the Service, as the API server
    sees it."""
    try:
        context = ssl.create_default_context(cafile=str(ca))
        with httpx.Client(verify=context, timeout=timeout_s) as client:
            response = client.post(
                f"https://127.0.0.1:{port}/",
                json=probe_review(),
                # The name the API server checks the certificate for, while connecting to loopback.
                extensions={"sni_hostname": pw.service_host()},
            )
        body = response.json()
    except (OSError, ssl.SSLError, httpx.HTTPError, ValueError):
        return False
    result = body.get("response") if isinstance(body, dict) else None
    return isinstance(result, dict) and result.get("uid") == _PROBE_UID and result.get("allowed") is True


def register(repo: Repo, api: KubeApi, environment: str, kubeconfig: Path) -> list[str]:
    """Apply what the platform program declares for `environment` on this cluster (namespace,
    Service, webhook configuration); returns "Kind name" of each."""
    objects = pw.local_registration(load_spec(repo, environment), kubeconfig.read_text())
    discovery = Discovery(api)
    applied = []
    for obj in objects:
        resource = discovery.resource(obj["apiVersion"], obj["kind"])
        metadata = obj["metadata"]
        label = f"{obj['kind']} {metadata['name']}"
        if resource is None:
            raise RefusedError(f"the local cluster does not serve {obj['apiVersion']} {obj['kind']}")
        path = object_path(obj["apiVersion"], resource, metadata["name"], metadata.get("namespace"))
        failure = f"{environment}: registering the policy webhook failed at {label}"
        api.apply_or_refuse(path, obj, manager=FIELD_MANAGER, failure=failure)
        applied.append(label)
    return applied
