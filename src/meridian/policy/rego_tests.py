"""Run the Rego unit tests with `opa test`, print results and coverage, fail under a threshold.

    python -m meridian.policy.rego_tests [--threshold 90]     (what `make test-policy` runs)

Coverage counts the policies only (policies/rego and the admission adapter in policies/admission),
not the test files, which cover themselves.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meridian_core.errors import MeridianError
from meridian_core.layout import Repo, find_repo

from meridian import toolchain

# opa's default of 5 s per test is too tight for a busy CI machine; no test here is slow by design.
_TIMEOUT = "120s"


@dataclass(frozen=True)
class FileCoverage:
    file: str
    covered: int
    not_covered: int
    missed_lines: tuple[int, ...]

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
    proc = subprocess.run(
        [opa, "test", "--format", "json", "--timeout", _TIMEOUT, *map(str, test_dirs(repo))],
        capture_output=True,
        text=True,
        cwd=repo.root,
        check=False,
    )
    try:
        results: list[dict[str, Any]] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        # Policies that do not compile print errors instead of results.
        raise MeridianError(f"opa test did not run: {(proc.stderr or proc.stdout).strip()[:2000]}") from None
    return results


def run_coverage(repo: Repo, opa: str) -> list[FileCoverage]:
    proc = subprocess.run(
        [opa, "test", "--coverage", "--coverage-runs=", "--format", "json", "--timeout", _TIMEOUT]
        + [str(d.relative_to(repo.root)) for d in test_dirs(repo)],
        capture_output=True,
        text=True,
        cwd=repo.root,
        check=False,
    )
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
                not_covered=int(entry.get("not_covered_lines", 0)),
                missed_lines=missed,
            )
        )
    return files


def total_percent(files: list[FileCoverage]) -> float:
    covered = sum(f.covered for f in files)
    total = covered + sum(f.not_covered for f in files)
    return 100.0 * covered / total if total else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--threshold", type=float, default=90.0, help="minimum coverage in percent")
    args = parser.parse_args(argv)
    try:
        repo = find_repo()
        opa = toolchain.require_tool(repo, "opa")
        results = run_tests(repo, opa)
        failed = [r for r in results if r.get("fail") or r.get("error")]
        for r in failed:
            where = r.get("location", {})
            print(f"FAIL {r.get('package')}.{r.get('name')} ({where.get('file')}:{where.get('row')})")
            if r.get("error"):
                print(f"     {r['error']}")
        coverage = run_coverage(repo, opa) if not failed else []
    except MeridianError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return int(exc.exit_code)
    for f in coverage:
        missed = f" (lines not covered: {', '.join(map(str, f.missed_lines))})" if f.missed_lines else ""
        print(f"  {f.percent:6.1f}%  {f.file}{missed}")
    percent = total_percent(coverage)
    if coverage:
        print(f"Rego coverage: {percent:.1f}% of policy lines (threshold {args.threshold:g}%)")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        return 1
    if percent < args.threshold:
        print(f"coverage {percent:.1f}% is under the threshold of {args.threshold:g}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
