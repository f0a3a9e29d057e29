"""`meridian validate` against the session's real API server.

Each run works in a copy of the checkout's environments (everything else linked), so the
renders land in a temporary build/ and a deliberately broken overlay never enters the real tree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.local_cluster import REPO_ROOT, ClusterUnderTest, meridian, output

pytestmark = pytest.mark.slow

ENVIRONMENTS = ("dev", "staging", "prod")
SUMMARY = re.compile(r"^(\w+): (\d+) checked, (\d+) rejected, (\d+) unchecked", re.MULTILINE)

# A Deployment the API server refuses, added to dev's orders overlay (an overlay of its own would be
# an app without a contract, which the spec refuses before anything reaches the cluster).
BROKEN_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  replicas: -1
  selector:
    matchLabels: {app: broken}
  template:
    metadata:
      labels: {app: broken}
    spec:
      containers:
        - name: app
          image: registry.example/broken:1.0
          envFrom: []  # the overlay's otlp-export component appends to it
"""

APPPROJECT_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: appprojects.argoproj.io
spec:
  group: argoproj.io
  scope: Namespaced
  names: {kind: AppProject, listKind: AppProjectList, plural: appprojects, singular: appproject}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""


def _checkout(where: Path) -> Path:
    """A checkout whose environments/ and build/ are private to the test."""
    root = where / "checkout"
    root.mkdir(parents=True)
    for entry in REPO_ROOT.iterdir():
        if entry.name not in (".git", ".meridian", "build", "environments"):
            (root / entry.name).symlink_to(entry)
    shutil.copytree(REPO_ROOT / "environments", root / "environments")
    return root


def _validate(cluster: ClusterUnderTest, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return meridian("validate", *args, env={**cluster.env, "MERIDIAN_ROOT": str(root)}, cwd=root)


def _summaries(text: str) -> dict[str, tuple[int, int, int]]:
    return {m[1]: (int(m[2]), int(m[3]), int(m[4])) for m in SUMMARY.finditer(text)}


@pytest.fixture(scope="module")
def validated_all(
    local_cluster: ClusterUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    return _validate(local_cluster, _checkout(tmp_path_factory.mktemp("validate-all")), "--all")


@pytest.fixture(scope="module")
def validated_broken(
    local_cluster: ClusterUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    where = tmp_path_factory.mktemp("validate-broken")
    root = _checkout(where)
    overlay = root / "environments" / "dev" / "apps" / "orders"
    (overlay / "broken.yaml").write_text(BROKEN_DEPLOYMENT)
    kustomization = overlay / "kustomization.yaml"
    base = "  - ../../../../apps/orders/deploy\n"
    assert base in kustomization.read_text()
    kustomization.write_text(kustomization.read_text().replace(base, f"{base}  - broken.yaml\n"))
    crds = where / "crds"
    crds.mkdir()
    (crds / "appproject.yaml").write_text(APPPROJECT_CRD)
    return _validate(local_cluster, root, "dev", "--crds", str(crds))


def test_validate_all_passes(validated_all: subprocess.CompletedProcess[str]):
    assert validated_all.returncode == 0, output(validated_all)
    assert "rejected " not in validated_all.stdout


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_is_checked_object_by_object(
    env: str, validated_all: subprocess.CompletedProcess[str], local_cluster: ClusterUnderTest
):
    checked, rejected, unchecked = _summaries(validated_all.stdout)[env]
    assert rejected == 0, output(validated_all)
    assert checked >= 20  # namespaces, quotas, limit ranges, network policies, the apps' objects
    # Calico's operator CRDs come with its chart, which cannot be fetched here.
    assert "CRD not installed: operator.tigera.io/Installation" in validated_all.stdout
    assert unchecked >= 1
    # The render's namespaces existed for real during the check (that is what makes the namespaced
    # dry-runs count) and are gone after it: a later `pulumi up` must be able to create them.
    assert "namespaces created for the check and deleted after it: " in validated_all.stdout
    with local_cluster.api() as api:
        assert not api.exists("/api/v1/namespaces/argocd")


def test_a_broken_deployment_is_rejected_with_its_name_and_reason(
    validated_broken: subprocess.CompletedProcess[str],
):
    assert validated_broken.returncode == 1, output(validated_broken)
    rejected = [line for line in validated_broken.stdout.splitlines() if line.startswith("rejected")]
    assert len(rejected) == 1, output(validated_broken)
    assert "Deployment orders/broken (build/dev/apps/orders.yaml)" in rejected[0]
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in rejected[0]
    assert _summaries(validated_broken.stdout)["dev"][1] == 1


def test_a_crd_in_the_crd_folder_is_installed_and_its_objects_checked(
    validated_broken: subprocess.CompletedProcess[str], local_cluster: ClusterUnderTest
):
    assert "installed 1 CRD(s)" in validated_broken.stdout
    assert "appprojects.argoproj.io" in validated_broken.stdout
    assert "argoproj.io/AppProject" not in validated_broken.stdout  # no longer unchecked
    assert "CRD not installed: argoproj.io/ApplicationSet" in validated_broken.stdout
    with local_cluster.api() as api:  # installed for the check only: Helm must be able to own it
        assert not api.exists(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/appprojects.argoproj.io"
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nowhere",), "unknown environment 'nowhere'"),
        ((), "name one environment or pass --all"),
        (("dev", "--all"), "name one environment or pass --all"),
    ],
)
def test_bad_input_exits_2(args: tuple[str, ...], message: str, tmp_path: Path):
    result = meridian("validate", *args, env={"MERIDIAN_CLUSTER_DIR": str(tmp_path)})
    assert result.returncode == 2, output(result)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_running_cluster_validate_refuses(tmp_path: Path):
    result = meridian("validate", "dev", env={"MERIDIAN_CLUSTER_DIR": str(tmp_path)})
    assert result.returncode == 1, output(result)
    assert "no local cluster" in result.stderr
    assert "meridian cluster up --local" in result.stderr
