"""The gate's Python entry points on real conftest, checkov and gitleaks: merging, exemptions,
environments, rendered folders and input errors."""

from __future__ import annotations

import secrets
import shutil
import string
import textwrap
from pathlib import Path

import pytest
import yaml
from meridian_core.errors import InputError
from meridian_core.layout import Repo
from policy_fixtures import HARDENED

from meridian import environment_gate
from meridian.policy import checkov_scan, gate
from meridian.policy.model import Severity

ORDERS = HARDENED / "orders.yaml"


def hardened_docs() -> list[dict]:
    return list(yaml.safe_load_all(ORDERS.read_text()))


def deployment() -> dict:
    return next(d for d in hardened_docs() if d["kind"] == "Deployment")


def write(path: Path, *docs: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return path


def test_an_active_exemption_suppresses_the_rule_and_is_listed(repo, tmp_path):
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    d["metadata"]["annotations"] = {
        "exemption.meridian.dev/MER-PSS-015": "expires=2099-12-31; reason=vendor image writes to /var/cache"
    }
    report = gate.check_paths(repo, [write(tmp_path / "app.yaml", d)], checkers=["conftest"])
    assert report.findings == []
    assert report.passed
    [exemption] = report.exemptions
    assert (exemption.rule, exemption.status, exemption.expires) == ("MER-PSS-015", "active", "2099-12-31")
    assert exemption.reason == "vendor image writes to /var/cache"
    assert str(exemption.obj) == "Deployment shop/orders"
    assert exemption.line == 1


def test_checkov_findings_join_the_same_report_and_obey_exemptions(repo, tmp_path):
    # Secrets as environment variables: allowed by the Rego rules (a secretKeyRef is no literal),
    # reported by checkov's CKV_K8S_35. Two objects: one plain, one exempted.
    plain = deployment()
    plain["metadata"]["name"] = "env-secret"
    plain["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "orders-db", "key": "password"}}}
    )
    exempted = yaml.safe_load(yaml.safe_dump(plain))
    exempted["metadata"]["name"] = "env-secret-exempted"
    exempted["metadata"]["annotations"] = {
        "exemption.meridian.dev/CKV_K8S_35": "expires=2099-12-31; reason=the driver reads only env vars"
    }
    policy = next(d for d in hardened_docs() if d["kind"] == "NetworkPolicy")
    path = write(tmp_path / "apps.yaml", plain, exempted, policy)
    report = gate.check_paths(repo, [path], checkers=["conftest", "checkov"])
    checkov = [f for f in report.findings if f.source == "checkov"]
    assert [(f.rule, str(f.obj)) for f in checkov] == [("CKV_K8S_35", "Deployment shop/env-secret")]
    assert checkov[0].severity is Severity.DENY
    assert checkov[0].line == 1
    assert [f for f in report.findings if f.source == "conftest"] == []
    assert [(e.rule, str(e.obj), e.status) for e in report.exemptions] == [
        ("CKV_K8S_35", "Deployment shop/env-secret-exempted", "active")
    ]
    assert not report.passed


def test_checks_listed_under_soft_fail_on_are_warnings(repo, tmp_path):
    scratch = tmp_path / "repo"
    shutil.copytree(repo.policies_dir, scratch / "policies")
    (scratch / "Pulumi.yaml").write_text("name: scratch\n")
    (scratch / "bin").symlink_to(repo.bin_dir)
    config = scratch / "policies" / "checkov" / ".checkov.yaml"
    config.write_text(config.read_text().replace("soft-fail-on: []", "soft-fail-on: [CKV_K8S_35]"))
    scratch_repo = Repo(scratch)
    assert checkov_scan.soft_fail_checks(scratch_repo) == {"CKV_K8S_35"}
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "orders-db", "key": "password"}}}
    )
    policy = next(x for x in hardened_docs() if x["kind"] == "NetworkPolicy")
    report = gate.check_paths(scratch_repo, [write(tmp_path / "a.yaml", d, policy)], checkers=["checkov"])
    assert [(f.rule, f.severity) for f in report.findings] == [("CKV_K8S_35", Severity.WARN)]
    assert report.passed


def test_production_rules_apply_only_when_the_environment_is_prod(repo, tmp_path):
    d = deployment()
    d["spec"]["replicas"] = 1
    d["metadata"]["namespace"] = "orders"  # an app namespace of prod, fenced by its default-deny
    path = write(tmp_path / "single.yaml", d)
    assert gate.check_paths(repo, [path], checkers=["conftest"]).findings == []
    prod = gate.check_paths(repo, [path], environment="prod", checkers=["conftest"])
    assert {f.rule for f in prod.findings} == {"MER-AVL-001", "MER-AVL-002"}
    assert {f.environment for f in prod.findings} == {"prod"}
    assert prod.environments == ("prod",)


def prepared_build(root: Path, env: str) -> Path:
    """A folder shaped like `meridian render`'s output: apps/APP.yaml and platform/*.yaml."""
    build = root / "build" / env
    (build / "apps").mkdir(parents=True)
    (build / "platform").mkdir(parents=True)
    shutil.copy(ORDERS, build / "apps" / "orders.yaml")
    shutil.copy(HARDENED / "namespace.yaml", build / "platform" / "namespaces.yaml")
    shutil.copy(HARDENED / "helm-releases.yaml", build / "platform" / "helm-releases.yaml")
    return build


def test_check_environment_checks_what_the_renderer_wrote(repo, tmp_path):
    rendered: list[str] = []

    def renderer(_: Repo, env: str) -> Path:
        rendered.append(env)
        return prepared_build(tmp_path, env)

    report = environment_gate.check_environment(
        repo, "prod", renderer=renderer, checkers=["conftest", "secrets"]
    )
    assert rendered == ["prod"]
    assert report.environments == ("prod",)
    assert report.passed, [f.message for f in report.findings]
    assert report.files >= 3 and report.objects >= 10
    assert {"render", "parse", "conftest", "secrets", "total"} <= set(report.seconds)


def test_check_environment_reports_the_environment_of_each_finding(repo, tmp_path):
    def renderer(_: Repo, env: str) -> Path:
        build = prepared_build(tmp_path / env, env)
        if env == "prod":
            releases = build / "platform" / "helm-releases.yaml"
            releases.write_text(releases.read_text().replace("version: 7.7.11", "version: ^7.7"))
        return build

    report = environment_gate.check_environments(
        repo, ["dev", "prod"], renderer=renderer, checkers=["conftest"]
    )
    assert report.environments == ("dev", "prod")
    assert [(f.rule, f.environment, str(f.obj)) for f in report.findings] == [
        ("MER-PLT-004", "prod", "HelmRelease argocd/argo-cd")
    ]
    assert report.findings[0].file.endswith("build/prod/platform/helm-releases.yaml")
    assert report.exit_code == 1


def test_secrets_in_checked_files_fail_the_gate_without_showing_the_value(repo, tmp_path):
    token = "glpat-" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20))
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["args"] = [f"--gitlab-token={token}"]
    report = gate.check_paths(repo, [write(tmp_path / "leak.yaml", d)], checkers=["secrets"])
    [finding] = report.findings
    assert finding.rule == "gitleaks:gitlab-pat"
    assert finding.source == "gitleaks" and finding.severity is Severity.DENY
    assert finding.file.endswith("leak.yaml") and finding.line is not None
    assert token not in finding.message
    assert not report.passed


def test_the_repository_files_checkov_also_reads(tmp_path):
    for name in (
        "apps/a/Dockerfile",
        "apps/a/Dockerfile.dockerignore",
        "apps/b/api.Dockerfile",
        "apps/b/Dockerfile.debug",
        "apps/.cache/Dockerfile",
        ".github/workflows/ci.yaml",
        ".github/workflows/README.md",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    files = [str(f.relative_to(tmp_path)) for f in gate.repository_files(Repo(tmp_path))]
    assert files == [
        "apps/a/Dockerfile",
        "apps/b/Dockerfile.debug",
        "apps/b/api.Dockerfile",
        ".github/workflows/ci.yaml",
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n", ":5"),
        ("apiVersion: v1\nkind: ConfigMap\nkind: Secret\n", ":3"),
        ("a: 1\n---\nb: *nowhere\n", ":3"),
    ],
    ids=["syntax", "duplicate-key", "unknown-alias"],
)
def test_unparsable_input_is_an_input_error_naming_file_and_line(repo, tmp_path, text, where):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    good = write(tmp_path / "good.yaml", deployment())
    with pytest.raises(InputError) as caught:
        gate.check_paths(repo, [good, bad])
    assert f"bad.yaml{where}: not valid YAML" in caught.value.message


def test_missing_paths_and_folders_without_yaml_are_input_errors(repo, tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        gate.check_paths(repo, [tmp_path / "absent"])
    (tmp_path / "notes.txt").write_text("nothing to see\n")
    with pytest.raises(InputError, match="no YAML files found"):
        gate.check_paths(repo, [tmp_path])


def test_folders_are_searched_for_yaml_and_multi_document_files_count_each_object(repo, tmp_path):
    nested = tmp_path / "deep" / "er"
    write(nested / "x.yml", {"kind": "ConfigMap"})
    shutil.copy(ORDERS, nested / "orders.yaml")
    (tmp_path / ".hidden").mkdir()
    write(tmp_path / ".hidden" / "skip.yaml", {"apiVersion": "v1", "kind": "Secret", "data": {"a": "Yg=="}})
    (tmp_path / "README.md").write_text(textwrap.dedent("# not yaml\n"))
    report = gate.check_paths(repo, [tmp_path], checkers=["conftest"])
    assert report.files == 2
    assert report.objects == len(hardened_docs()) + 1
    assert report.passed
