"""The Rego unit tests with `opa test`: their results, and the coverage of the policies' lines
(`meridian dev rego-tests`, which `make test-policy` runs, prints both and fails under a threshold).

Coverage counts the policies only (policies/rego and the admission adapter in policies/admission),
not the test files, which cover themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meridian_core.errors import MeridianError
from meridian_core.layout import Repo

from meridian import toolchain

# opa's default of 5 s per test is too tight for a busy CI machine; no test here is slow by design.
_TIMEOUT = "120s"


@dataclass(frozen=True)
class FileCoverage:
    """How much of one Rego file the policies' unit tests run."""

    file: str
    covered: int
    missed_lines: tuple[int, ...]

    @property
    def not_covered(self) -> int:
        return len(self.missed_lines)

    @property
    def percent(self) -> float:
        total = self.covered + self.not_covered
        return 100.0 * self.covered / total if total else 100.0


def test_dirs(repo: Repo) -> list[Path]:
    return [
        repo.policies_dir / "rego",
        repo.policies_dir / "admission",
        repo.root / "tests" / "policies" / "rego",
        repo.root / "tests" / "admission" / "rego",
    ]


def run_tests(repo: Repo, opa: str) -> list[dict[str, Any]]:
    command = [opa, "test", "--format", "json", "--timeout", _TIMEOUT, *map(str, test_dirs(repo))]
    proc = toolchain.run(command, env=toolchain.tool_env(repo), cwd=repo.root)
    try:
        results: list[dict[str, Any]] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        # Policies that do not compile print errors instead of results.
        raise MeridianError(f"opa test did not run: {(proc.stderr or proc.stdout).strip()[:2000]}") from None
    return results


def run_coverage(repo: Repo, opa: str) -> list[FileCoverage]:
    command = [opa, "test", "--coverage", "--coverage-runs=", "--format", "json", "--timeout", _TIMEOUT]
    command += [str(d.relative_to(repo.root)) for d in test_dirs(repo)]
    proc = toolchain.run(command, env=toolchain.tool_env(repo), cwd=repo.root)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        detail = (proc.stderr or proc.stdout).strip()[:2000]
        raise MeridianError(f"opa test --coverage failed: {detail}") from None
    return policy_coverage(report)


def policy_coverage(report: dict[str, Any], prefix: str = "policies/") -> list[FileCoverage]:
    files = []
    for file, entry in sorted(report.get("files", {}).items()):
        if not file.startswith(prefix):
            continue
        missed = tuple(
            line
            for span in entry.get("not_covered") or []
            for line in range(span["start"]["row"], span["end"]["row"] + 1)
        )
        files.append(
            FileCoverage(
                file=file,
                covered=int(entry.get("covered_lines", 0)),
                missed_lines=missed,
            )
        )
    return files


def total_percent(files: list[FileCoverage]) -> float:
    covered = sum(f.covered for f in files)
    total = covered + sum(f.not_covered for f in files)
    return 100.0 * covered / total if total else 0.0
