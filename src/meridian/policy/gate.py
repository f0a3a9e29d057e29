"""The policy gate: what the CLI, promotions and the benchmarks check manifests with.

    check_paths(repo, paths, environment=None)  any Kubernetes YAML files or folders
    check_builds(repo, {env: build_dir})        rendered environments (meridian.environment_gate
                                                renders them first)

Each runs conftest (the Rego policies), checkov and the secret scan side by side and returns one
GateReport; `report.passed` is the verdict and `report.exit_code` what the CLI exits with.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from meridian_core.layout import Rendered, Repo

from meridian.policy import checkov_scan, manifests, rego, secret_scan
from meridian.policy.context import environment_context
from meridian.policy.model import Finding, GateReport, ObjectRef, Severity
from meridian.policy.procs import Cancelled, Processes

CHECKERS = ("conftest", "checkov", "secrets")

# progress(step, event): event is "start" or "done"; steps are parse, conftest, checkov, secrets
# and render, with the environment after a colon when there are several (conftest:prod).
Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class _Target:
    """Manifests checked together, as one environment (or as no particular one)."""

    environment: str | None
    paths: tuple[Path, ...]
    files: tuple[Path, ...]
    # The rest of the environment for the Rego rules: None when nothing is known of it, () when the
    # files are the whole rendered environment.
    context: tuple[dict[str, Any], ...] | None = None


def check_paths(
    repo: Repo,
    paths: Sequence[Path],
    environment: str | None = None,
    *,
    checkers: Iterable[str] = CHECKERS,
    progress: Progress | None = None,
) -> GateReport:
    files = tuple(manifests.collect(paths))
    context = environment_context(repo, environment) if environment and "conftest" in checkers else None
    target = _Target(environment, tuple(paths), files, None if context is None else tuple(context))
    return _check(repo, [target], [], frozenset(checkers), progress)


def check_builds(
    repo: Repo,
    builds: Mapping[str, Path],
    *,
    checkers: Iterable[str] = CHECKERS,
    progress: Progress | None = None,
) -> GateReport:
    """Rendered folders (build/ENV), each checked as its environment, plus the repository's
    Dockerfiles and workflows for checkov."""
    targets = [_Target(env, (path,), tuple(manifests.collect([path])), ()) for env, path in builds.items()]
    return _check(repo, targets, repository_files(repo), frozenset(checkers), progress)


def repository_files(repo: Repo) -> list[Path]:
    """Dockerfiles of the apps and the GitHub workflows: checkov's part beyond the manifests."""
    dockerfiles = [
        p
        for p in sorted(repo.apps_dir.rglob("*Dockerfile*"))
        if p.is_file()
        and _is_dockerfile(p.name)
        and not any(part.startswith(".") for part in p.relative_to(repo.root).parts)
    ]
    workflows = sorted(
        p for p in (repo.root / ".github" / "workflows").glob("*") if p.suffix in manifests.YAML_SUFFIXES
    )
    return [*dockerfiles, *workflows]


def _is_dockerfile(name: str) -> bool:
    """Dockerfile, Dockerfile.prod or api.Dockerfile; not Dockerfile.dockerignore."""
    if name.endswith(".dockerignore"):
        return False
    return name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".Dockerfile")


def _silent(step: str, event: str) -> None:
    """No progress display."""


def step_name(name: str, env: str | None, count: int) -> str:
    """A progress step; with several environments it names the one it is for (conftest:prod)."""
    return f"{name}:{env}" if env and count > 1 else name


def _check(
    repo: Repo,
    targets: list[_Target],
    extra_files: list[Path],
    checkers: frozenset[str],
    progress: Progress | None,
) -> GateReport:
    notify = progress or _silent
    all_files = list(dict.fromkeys(f for t in targets for f in t.files))
    procs = Processes()
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def timed(step: str, key: str, fn: Callable[..., Any], *args: Any) -> Any:
        notify(step, "start")
        began = time.perf_counter()
        try:
            return fn(*args)
        finally:
            # Steps of one kind run side by side, so the slowest is the one that counts.
            seconds[key] = max(seconds.get(key, 0.0), time.perf_counter() - began)
            notify(step, "done")

    parse_job: Future[manifests.Manifests]
    rego_jobs: list[tuple[_Target, Future[rego.RegoResult]]] = []
    secret_jobs: list[tuple[_Target, Path, Future[list[secret_scan.SecretFinding]]]] = []
    checkov_job: Future[list[checkov_scan.CheckovFinding]] | None = None
    with ThreadPoolExecutor(max_workers=3 + 2 * len(targets)) as pool:
        parse_job = pool.submit(timed, "parse", "parse", manifests.load, repo.root, all_files)
        # checkov first: it is the slowest step, and must not wait behind queued secret scans. One
        # process for every environment and the repository's own files (Dockerfiles, workflows):
        # most of checkov's time is its start-up, paid once. Its graph checks that relate a pod to
        # the NetworkPolicy selecting it (CKV2_K8S_6) are off: MER-NET-005 judges isolation with
        # each environment apart. The RBAC graph checks left can only gain edges from another
        # environment's objects of the same name (rendered by the same code), so they may report
        # more, never less.
        if "checkov" in checkers:
            checkov_job = pool.submit(
                timed, "checkov", "checkov", checkov_scan.run, repo, [*all_files, *extra_files], procs
            )
        for t in targets:
            step = step_name("conftest", t.environment, len(targets))
            if "conftest" in checkers:
                rego_job = pool.submit(
                    timed, step, "conftest", rego.run, repo, t.files, t.environment, procs, t.context
                )
                rego_jobs.append((t, rego_job))
            if "secrets" in checkers:
                step = step_name("secrets", t.environment, len(targets))
                for path in t.paths:
                    scan = pool.submit(timed, step, "secrets", secret_scan.scan_tree, repo, path, procs)
                    secret_jobs.append((t, path, scan))
        others: list[Future[Any]] = [job for _, job in rego_jobs]
        others += [checkov_job] if checkov_job is not None else []
        others += [job for _, _, job in secret_jobs]
        _wait_or_cancel(parse_job, others, procs)
    seconds["total"] = time.perf_counter() - started

    parsed = parse_job.result()
    report = GateReport(
        environments=tuple(t.environment for t in targets if t.environment),
        files=len(all_files) + len(extra_files),
        objects=parsed.objects,
        tools=tuple(c for c in CHECKERS if c in checkers),
        seconds=seconds,
        chart_objects=_chart_objects(parsed, targets),
    )
    active: set[tuple[str, ObjectRef, str]] = set()
    for _, done in rego_jobs:
        _add_rego(report, parsed, done.result(), active)
    if checkov_job is not None:
        soft = checkov_scan.soft_fail_checks(repo)
        # Dockerfiles and workflows belong to no environment.
        environment_of = {str(f): t.environment for t in targets for f in t.files}
        for found in checkov_job.result():
            finding = _checkov_finding(parsed, found, soft, environment_of.get(found.file))
            # An active exemption annotation covers checkov's checks as well as the Rego rules.
            if (found.file, finding.obj, found.check_id) not in active:
                report.findings.append(finding)
    for t, path, secret_job in secret_jobs:
        for secret in secret_job.result():
            report.findings.append(_secret_finding(parsed, path, secret, t.environment))
    report.findings.sort(key=lambda f: (f.file, f.line or 0, f.rule))
    report.exemptions.sort(key=lambda e: (e.file, e.line or 0, e.rule))
    return report


def _chart_objects(parsed: manifests.Manifests, targets: list[_Target]) -> dict[str, int]:
    """Objects under each environment's platform/charts/ folder (what `meridian render` wrote there)."""
    counts: dict[str, int] = {}
    for t in targets:
        folders = [Rendered(p).charts.resolve() for p in t.paths if p.is_dir()]
        if t.environment is None or not any(f.is_dir() for f in folders):
            continue
        counts[t.environment] = sum(
            1
            for d in parsed.documents
            if d.obj is not None and any(d.file.is_relative_to(f) for f in folders)
        )
    return counts


def _wait_or_cancel(parse_job: Future[Any], others: list[Future[Any]], procs: Processes) -> None:
    """Wait for every step; when one fails, stop the others and raise its error.

    A parse error wins over any other: it is the one people can act on, and the checkers'
    failures on the same input only follow from it.
    """
    everything = [parse_job, *others]
    done, _ = wait(everything, return_when=FIRST_EXCEPTION)
    if not any(job.exception() is not None for job in done):
        return
    procs.cancel()
    wait(everything)
    errors = [job.exception() for job in everything]
    real = [e for e in errors if e is not None and not isinstance(e, Cancelled)]
    if real:
        raise real[0]


def _add_rego(
    report: GateReport,
    parsed: manifests.Manifests,
    result: rego.RegoResult,
    active: set[tuple[str, ObjectRef, str]],
) -> None:
    for raw in result.findings:
        doc = parsed.find(raw.file, raw.obj)
        report.findings.append(
            replace(raw.finding, file=parsed.display(raw.file), line=doc.line if doc else None)
        )
    for raw_exemption in result.exemptions:
        doc = parsed.find(raw_exemption.file, raw_exemption.obj)
        exemption = raw_exemption.exemption
        report.exemptions.append(
            replace(exemption, file=parsed.display(raw_exemption.file), line=doc.line if doc else None)
        )
        if exemption.status == "active":
            active.add((raw_exemption.file, raw_exemption.obj, exemption.rule))


_CHECKOV_KINDS = {"dockerfile": "Dockerfile", "github_actions": "Workflow"}


def _checkov_finding(
    parsed: manifests.Manifests,
    found: checkov_scan.CheckovFinding,
    soft: frozenset[str],
    environment: str | None,
) -> Finding:
    doc = parsed.document_at(found.file, found.line) if found.check_type == "kubernetes" else None
    if doc is not None and doc.obj is not None:
        obj: ObjectRef = doc.obj
    else:
        # checkov names Dockerfile and workflow resources after the absolute file path
        # ("/…/apps/orders/Dockerfile.FROM"); people want the path they know and the part.
        part = found.resource.removeprefix(found.file).lstrip(".")
        name = f"{parsed.display(found.file)} {part}".rstrip()
        obj = ObjectRef(_CHECKOV_KINDS.get(found.check_type, found.check_type), "", name)
    return Finding(
        rule=found.check_id,
        severity=Severity.WARN if found.check_id in soft else Severity.DENY,
        message=f"{obj}: {found.check_name}",
        file=parsed.display(found.file),
        line=found.line or None,
        obj=obj,
        source="checkov",
        title=found.check_name,
        reference=f"checkov {found.check_id}",
        url=found.guideline or "https://www.checkov.io/5.Policy%20Index/all.html",
        environment=environment,
    )


def _secret_finding(
    parsed: manifests.Manifests, base: Path, secret: secret_scan.SecretFinding, environment: str | None
) -> Finding:
    path = base / secret.file if base.is_dir() else base
    return Finding(
        rule=f"gitleaks:{secret.rule}",
        severity=Severity.DENY,
        message=(
            f"{secret.description.rstrip('.')} (value not shown); remove it, rotate it, "
            "and deliver it from Vault instead"
        ),
        file=parsed.display(path),
        line=secret.line,
        obj=None,
        source="gitleaks",
        title=secret.description,
        reference=f"gitleaks rule {secret.rule} (policies/gitleaks.toml)",
        url="",
        environment=environment,
    )
