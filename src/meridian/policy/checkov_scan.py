"""Run checkov, the gate's second opinion, over manifests, Dockerfiles and workflows.

The configuration is policies/checkov/.checkov.yaml, passed explicitly; its skips carry their
reasons inline. Checks listed under `soft-fail-on` there are reported as warnings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from meridian_core.errors import InputError, RefusedError
from meridian_core.layout import Repo

from meridian import toolchain
from meridian.policy.procs import Processes

# Variables that would point checkov at a cluster or a cloud account. The gate judges files, and
# checkov must not reach out with someone's credentials while doing it.
_SCRUBBED_PREFIXES = ("KUBECONFIG", "BC_API_KEY", "PRISMA_", "AWS_", "AZURE_", "GOOGLE_", "GITHUB_TOKEN")


@dataclass(frozen=True)
class CheckovFinding:
    check_id: str
    check_name: str
    check_type: str  # kubernetes, dockerfile, github_actions
    file: str  # absolute
    line: int
    resource: str
    guideline: str


def config_file(repo: Repo) -> Path:
    return repo.policies_dir / "checkov" / ".checkov.yaml"


def soft_fail_checks(repo: Repo) -> frozenset[str]:
    path = config_file(repo)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the checkov configuration: {exc}") from exc
    return frozenset(str(check) for check in config.get("soft-fail-on") or ())


def checkov_command(repo: Repo, files: Sequence[Path], checkov: str = "checkov") -> list[str]:
    return [checkov, "--config-file", str(config_file(repo)), "--output", "json", "--file", *map(str, files)]


def checkov_env(repo: Repo) -> dict[str, str]:
    env = {k: v for k, v in toolchain.tool_env(repo).items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env["LOG_LEVEL"] = "ERROR"
    return env


def run(repo: Repo, files: Sequence[Path], procs: Processes | None = None) -> list[CheckovFinding]:
    if not files:
        return []
    checkov = toolchain.require_tool(repo, "checkov")
    proc = (procs or Processes()).run(
        checkov_command(repo, files, checkov), env=checkov_env(repo), cwd=repo.root
    )
    # checkov exits 1 when a check fails; anything else, or no JSON, means it did not finish.
    if proc.returncode not in (0, 1):
        raise RefusedError(f"checkov failed (exit {proc.returncode}): {_tail(proc.stderr or proc.stdout)}")
    try:
        reports = _json_values(proc.stdout)
    except json.JSONDecodeError as exc:
        raise RefusedError(f"checkov printed no JSON report: {_tail(proc.stderr or proc.stdout)}") from exc
    return parse_reports(reports)


def _tail(text: str) -> str:
    return " ".join(text.strip().splitlines()[-3:])[:400]


def _json_values(text: str) -> list[Any]:
    """checkov prints one JSON value per run, several when given several folders; read them all."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    text = text.strip()
    while position < len(text):
        value, end = decoder.raw_decode(text, position)
        values.append(value)
        position = end
        while position < len(text) and text[position].isspace():
            position += 1
    if not values:
        raise json.JSONDecodeError("empty output", text, 0)
    return values


def parse_reports(values: list[Any]) -> list[CheckovFinding]:
    reports: list[dict[str, Any]] = []
    for value in values:
        reports.extend(value if isinstance(value, list) else [value])
    findings = []
    for report in reports:
        # A run that found nothing to check prints only a summary, without check_type or results.
        check_type = str(report.get("check_type", ""))
        for failed in (report.get("results") or {}).get("failed_checks") or []:
            line_range = failed.get("file_line_range") or [0, 0]
            findings.append(
                CheckovFinding(
                    check_id=str(failed["check_id"]),
                    check_name=str(failed.get("check_name", "")),
                    check_type=check_type,
                    file=os.path.abspath(str(failed.get("file_abs_path") or failed.get("file_path", ""))),
                    line=int(line_range[0] or 0),
                    resource=str(failed.get("resource", "")),
                    guideline=str(failed.get("guideline") or ""),
                )
            )
    return findings
