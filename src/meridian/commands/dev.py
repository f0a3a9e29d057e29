"""`meridian dev rego-tests|dashboards|schema`: the repository's own upkeep, what `make test-policy`,
`make dashboards` and `make schema` run: the policy gate's Rego unit tests with coverage, and the
files generated from code (the apps' Grafana dashboards, the environment spec's JSON Schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from meridian_core import layout
from meridian_core.exitcodes import ExitCode
from meridian_core.layout import Repo, find_repo
from meridian_infra.observability.dashboards import committed_path, render_all
from meridian_infra.spec.schema import schema_text

from meridian import toolchain
from meridian.commands.options import command_group, examples
from meridian.console import err, out
from meridian.policy import rego_tests as rego

SCHEMA_FILES = {"platform": layout.SPEC_SCHEMA, "app": layout.CONTRACT_SCHEMA}

_EXAMPLES = (
    "meridian dev rego-tests --threshold 90  # what `make test-policy` runs",
    "meridian dev dashboards  # rewrite apps/*/dashboards/*.json (`make dashboards`)",
    "meridian dev schema --check  # are environments/platform.schema.json and apps/app.schema.json current?",
)
app = command_group(
    "dev",
    "The repository's own upkeep: Rego unit tests with coverage, and the files generated from code "
    "(dashboards, the spec's JSON Schema).",
    *_EXAMPLES,
)

Check = Annotated[
    bool,
    typer.Option("--check", help="Compare with what the code generates instead of writing; exit 1 if stale."),
]


@app.command("rego-tests", epilog=examples(_EXAMPLES[0], "meridian dev rego-tests --threshold 0"))
def rego_tests(
    threshold: Annotated[
        float, typer.Option("--threshold", help="The least coverage of the policies' lines, in percent.")
    ] = 90.0,
) -> None:
    """Run the Rego unit tests (policies/rego, policies/admission and their tests) with `opa test`;
    print each failure, then each policy file's coverage.

    Coverage counts the policies only, not the test files, which cover themselves. Exit 0 when every
    test passes and coverage reaches the threshold, 1 otherwise."""
    repo = find_repo()
    opa = toolchain.require_tool(repo, "opa")
    results = rego.run_tests(repo, opa)
    failed = [r for r in results if r.get("fail") or r.get("error")]
    for r in failed:
        where = r.get("location", {})
        _line(f"FAIL {r.get('package')}.{r.get('name')} ({where.get('file')}:{where.get('row')})")
        if r.get("error"):
            _line(f"     {r['error']}")
    coverage = rego.run_coverage(repo, opa) if not failed else []
    for f in coverage:
        missed = f" (lines not covered: {', '.join(map(str, f.missed_lines))})" if f.missed_lines else ""
        _line(f"  {f.percent:6.1f}%  {f.file}{missed}")
    percent = rego.total_percent(coverage)
    if coverage:
        _line(f"Rego coverage: {percent:.1f}% of policy lines (threshold {threshold:g}%)")
    _line(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(int(ExitCode.REFUSED))
    if percent < threshold:
        err.print(f"coverage {percent:.1f}% is under the threshold of {threshold:g}%", markup=False)
        raise typer.Exit(int(ExitCode.REFUSED))


@app.command("dashboards", epilog=examples(_EXAMPLES[1], "meridian dev dashboards --check"))
def dashboards(check: Check = False) -> None:
    """Write each app's Grafana dashboard, apps/APP/dashboards/APP.json, as
    infra/meridian_infra/observability/dashboards.py builds it (never edit them by hand).

    One dashboard per app with a contract (apps/APP/app.yaml). Exit 1, with --check, when a
    committed one is not what the code generates."""
    repo = find_repo()
    written = {committed_path(repo.root, app): text for app, text in render_all(repo.root).items()}
    _regenerate(repo, written, check=check, target="dashboards")


@app.command("schema", epilog=examples("meridian dev schema  # what `make schema` runs", _EXAMPLES[2]))
def schema(check: Check = False) -> None:
    """Write the JSON Schemas editors validate with, from the spec's models (infra/meridian_infra/spec):
    environments/platform.schema.json for platform.yaml, apps/app.schema.json for each app.yaml.

    Exit 1, with --check, when a committed file is not what the code generates."""
    repo = find_repo()
    files = {repo.root / path: schema_text(kind) for kind, path in SCHEMA_FILES.items()}
    _regenerate(repo, files, check=check, target="schema")


def _regenerate(repo: Repo, files: dict[Path, str], *, check: bool, target: str) -> None:
    """Write the generated files, or with `check` name those that differ (`make TARGET` writes them)."""
    stale = []
    for path, text in files.items():
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        _line(f"wrote {path.relative_to(repo.root)}")
    for path in stale:
        err.print(f"{path} is not what the code generates: run `make {target}`", soft_wrap=True, markup=False)
    if stale:
        raise typer.Exit(int(ExitCode.REFUSED))


def _line(text: str) -> None:
    # Lines of a report CI logs keep: never wrapped, never read as markup.
    out.print(text, soft_wrap=True, markup=False)
