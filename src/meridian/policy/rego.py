"""Run the Rego policies under policies/rego with conftest, and read its JSON into findings.

conftest runs with --combine so that rules can look across objects (a Deployment and its
PodDisruptionBudget, a namespace and its quota); every result names its own file and object.
The environment reaches the policies as conftest data, never guessed from paths.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meridian_core.errors import InputError, RefusedError
from meridian_core.layout import GATE_POLICIES, Repo

from meridian import toolchain
from meridian.policy.model import Exemption, Finding, ObjectRef, Severity
from meridian.policy.procs import Processes


@dataclass
class RegoResult:
    """What conftest said, with files still absolute; the gate maps them to lines and display paths."""

    findings: list[RawFinding] = field(default_factory=list)
    exemptions: list[RawExemption] = field(default_factory=list)


@dataclass(frozen=True)
class RawFinding:
    file: str
    obj: ObjectRef
    finding: Finding  # file and line still to be filled in


@dataclass(frozen=True)
class RawExemption:
    file: str
    obj: ObjectRef
    exemption: Exemption


def policy_dir(repo: Repo) -> Path:
    return repo.path(GATE_POLICIES)


def conftest_command(
    repo: Repo, files: Sequence[Path], data_file: Path | None, conftest: str = "conftest"
) -> list[str]:
    """The conftest invocation the gate uses; the benchmark times the same command on its own."""
    command = [
        conftest,
        "test",
        "--combine",
        "--no-color",
        "--no-fail",
        "--parser",
        "yaml",
        "--output",
        "json",
        "--policy",
        str(policy_dir(repo)),
    ]
    if data_file is not None:
        command += ["--data", str(data_file)]
    return [*command, *map(str, files)]


def gate_data(environment: str | None, context: Sequence[dict[str, Any]] | None) -> dict[str, Any] | None:
    """What the policies read under data.meridian: the environment, and the objects of it that are
    not under test (lib/context.rego); None when there is nothing to say."""
    meridian: dict[str, Any] = {}
    if environment:
        meridian["environment"] = environment
    if context is not None:
        meridian["context"] = list(context)
    return {"meridian": meridian} if meridian else None


def run(
    repo: Repo,
    files: Sequence[Path],
    environment: str | None,
    procs: Processes | None = None,
    context: Sequence[dict[str, Any]] | None = None,
) -> RegoResult:
    """conftest over `files`; `context` is the rest of the environment (None: nothing known of it,
    []: the files are the whole environment)."""
    conftest = toolchain.require_tool(repo, "conftest")
    with tempfile.TemporaryDirectory(prefix="meridian-gate-") as tmp:
        data_file = None
        data = gate_data(environment, context)
        if data is not None:
            data_file = Path(tmp) / "meridian-environment.json"
            data_file.write_text(json.dumps(data))
        command = conftest_command(repo, files, data_file, conftest)
        proc = (procs or Processes()).run(command, env=toolchain.tool_env(repo))
    if proc.returncode != 0:
        raise _conftest_error(proc.stderr or proc.stdout)
    try:
        results = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise RefusedError(f"conftest printed no JSON report: {proc.stdout[:200]!r}") from exc
    return parse_results(results, environment)


def _conftest_error(text: str) -> Exception:
    message = " ".join(text.split())[:400]
    # conftest names the file it could not parse; that is bad input, not a broken gate. A broken
    # policy (rego_parse_error, rego_type_error, …) is the gate's own fault.
    if "rego_" not in message and any(word in message for word in ("unmarshal", "yaml:")):
        return InputError(f"conftest could not read the input: {message}")
    return RefusedError(f"conftest failed: {message}", hint="run `meridian doctor`; then `make test-policy`")


def parse_results(results: list[dict[str, Any]], environment: str | None) -> RegoResult:
    out = RegoResult()
    for block in results:
        for item in [*(block.get("failures") or []), *(block.get("warnings") or [])]:
            meta = item.get("metadata") or {}
            if meta.get("type") == "exemption":
                out.exemptions.append(_exemption(meta, environment))
            elif meta.get("type") == "finding":
                out.findings.append(_finding(meta, environment))
            else:
                # A rule outside the catalog's pattern (a plain-string deny) still must not pass silently.
                out.findings.append(_untyped(item, block, environment))
    return out


def _ref(meta: dict[str, Any]) -> ObjectRef:
    return ObjectRef(str(meta.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", "")))


def _finding(meta: dict[str, Any], environment: str | None) -> RawFinding:
    obj = _ref(meta)
    finding = Finding(
        rule=str(meta["rule"]),
        severity=Severity(meta["severity"]),
        message=str(meta.get("detail") or meta.get("msg", "")),
        file=str(meta.get("file", "")),
        line=None,
        obj=obj,
        source="conftest",
        title=str(meta.get("title", "")),
        reference=str(meta.get("reference", "")),
        url=str(meta.get("url", "")),
        environment=environment,
    )
    return RawFinding(file=finding.file, obj=obj, finding=finding)


def _exemption(meta: dict[str, Any], environment: str | None) -> RawExemption:
    obj = _ref(meta)
    exemption = Exemption(
        rule=str(meta["rule"]),
        status=str(meta["status"]),
        expires=str(meta.get("expires", "")),
        reason=str(meta.get("reason", "")),
        file=str(meta.get("file", "")),
        line=None,
        obj=obj,
        environment=environment,
    )
    return RawExemption(file=exemption.file, obj=obj, exemption=exemption)


def _untyped(item: dict[str, Any], block: dict[str, Any], environment: str | None) -> RawFinding:
    query = str((item.get("metadata") or {}).get("query", "deny"))
    obj = ObjectRef("", "", "")
    finding = Finding(
        rule=query.removeprefix("data."),
        severity=Severity.WARN if query.endswith(".warn") else Severity.DENY,
        message=str(item.get("msg", "")),
        file=str(block.get("filename", "")),
        line=None,
        obj=None,
        source="conftest",
        environment=environment,
    )
    return RawFinding(file=finding.file, obj=obj, finding=finding)
