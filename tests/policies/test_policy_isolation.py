"""Network isolation is judged with the environment in view, and checkov starts once per gate run.

A Deployment, StatefulSet or Job checked on its own for an environment is surrounded by the
namespaces and NetworkPolicies that environment's platform renders (meridian.policy.context):
in a namespace the platform fences with default-deny it passes, in any other it is denied
(MER-NET-005). checkov's CKV2_K8S_6, which only sees the files it is given, is off.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import yaml
from policy_fixtures import HARDENED

from meridian.policy import gate
from meridian.policy.procs import Processes

ORDERS = HARDENED / "orders.yaml"


def _workloads(namespace: str) -> list[dict]:
    """The hardened Deployment, and a StatefulSet and a Job with the same pod, in `namespace`."""
    deployment = next(d for d in yaml.safe_load_all(ORDERS.read_text()) if d["kind"] == "Deployment")
    deployment["metadata"]["namespace"] = namespace
    stateful = copy.deepcopy(deployment)
    stateful["kind"] = "StatefulSet"
    stateful["metadata"]["name"] = "orders-store"
    stateful["spec"]["serviceName"] = "orders-store"
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "orders-migrate", "namespace": namespace},
        "spec": {"template": copy.deepcopy(deployment["spec"]["template"])},
    }
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    for container in job["spec"]["template"]["spec"]["containers"]:
        container.pop("readinessProbe", None)
        container.pop("livenessProbe", None)
    return [deployment, stateful, job]


def _write(path: Path, docs: list[dict]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def test_lone_workloads_pass_with_their_environments_default_deny_and_are_denied_without(repo, tmp_path):
    # orders is an app namespace of dev: the platform gives it default-deny. payments is none.
    fenced = [_write(tmp_path / f"{w['kind'].lower()}.yaml", [w]) for w in _workloads("orders")]
    unfenced = _write(tmp_path / "payments.yaml", _workloads("payments"))

    report = gate.check_paths(repo, [*fenced, unfenced], environment="dev", checkers=["conftest", "checkov"])

    found = sorted((f.rule, str(f.obj)) for f in report.findings)
    assert found == [
        ("MER-NET-005", "Deployment payments/orders"),
        ("MER-NET-005", "Job payments/orders-migrate"),
        ("MER-NET-005", "StatefulSet payments/orders-store"),
    ], "\n".join(f"{f.rule} {f.message}" for f in report.findings)
    expected = "no default-deny NetworkPolicy covers Ingress and Egress in dev"
    assert all(expected in f.message for f in report.findings)
    assert not report.passed


def test_a_workload_checked_for_no_environment_is_not_denied_for_what_it_was_not_shown(repo, tmp_path):
    path = _write(tmp_path / "payments.yaml", _workloads("payments")[:1])

    report = gate.check_paths(repo, [path], checkers=["conftest"])

    assert report.findings == []


def test_one_checkov_process_checks_every_environment(repo, tmp_path, monkeypatch):
    started: list[list[str]] = []
    run = Processes.run

    def spy(self: Processes, command, **kwargs):  # the real run, counted
        started.append(list(command))
        return run(self, command, **kwargs)

    monkeypatch.setattr(Processes, "run", spy)
    builds = {}
    for env in ("dev", "staging", "prod"):
        builds[env] = tmp_path / env
        shutil.copytree(HARDENED, builds[env])

    report = gate.check_builds(repo, builds, checkers=["checkov", "conftest"])

    checkov_runs = [c for c in started if Path(c[0]).name == "checkov"]
    conftest_runs = [c for c in started if Path(c[0]).name == "conftest"]
    assert len(checkov_runs) == 1
    assert len(conftest_runs) == 3  # the Rego rules judge each environment apart
    for build in builds.values():
        assert any(arg.startswith(str(build)) for arg in checkov_runs[0])
    assert report.environments == ("dev", "staging", "prod")
