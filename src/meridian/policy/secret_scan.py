"""Scan a working tree, or every commit of a git history, for secrets with gitleaks.

The configuration is always policies/gitleaks.toml, passed explicitly, so a `.gitleaks.toml` or
GITLEAKS_CONFIG lying around cannot change what the gate accepts. Findings carry file, line and
rule, never the secret: gitleaks redacts it, and nothing here reads the field it would be in.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from meridian_core.errors import InputError, RefusedError
from meridian_core.layout import Repo

from meridian import toolchain
from meridian.policy.procs import Processes


@dataclass(frozen=True, order=True)
class SecretFinding:
    file: str  # relative to the scanned folder
    line: int
    rule: str
    description: str
    commit: str | None = None  # the commit that holds it, for history scans


def config_file(repo: Repo) -> Path:
    return repo.policies_dir / "gitleaks.toml"


def gitleaks_command(
    repo: Repo, mode: str, target: Path, report: Path, gitleaks: str = "gitleaks"
) -> list[str]:
    command = [
        gitleaks,
        mode,
        str(target),
        "--config",
        str(config_file(repo)),
        "--report-format",
        "json",
        "--report-path",
        str(report),
        "--redact",
        "--no-banner",
        "--log-level",
        "error",
        "--exit-code",
        "0",
        # Inline `gitleaks:allow` comments would let anyone silence the scanner in the same change
        # that adds a secret; allowances belong in the reviewed configuration.
        "--ignore-gitleaks-allow",
        # The ignore file is looked up in the working folder by default; only ours counts.
        "--gitleaks-ignore-path",
        str(repo.policies_dir),
    ]
    if mode == "git":
        command.append("--log-opts=--all")  # every commit reachable from any ref, not just HEAD's
    return command


def scan_tree(repo: Repo, target: Path, procs: Processes | None = None) -> list[SecretFinding]:
    """Every file under `target` (or `target` itself), as it is on disk, ignored files included."""
    if not target.exists():
        raise InputError(f"{target}: no such file or folder")
    return _run(repo, "dir", target, procs or Processes())


def scan_history(repo: Repo, target: Path) -> list[SecretFinding]:
    """Every commit of the git repository at `target`."""
    if not target.is_dir():
        raise InputError(f"{target}: no such folder")
    inside = subprocess.run(
        ["git", "-C", str(target), "rev-parse", "--is-inside-work-tree"],
        capture_output=True,
        text=True,
        check=False,
    )
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise InputError(f"{target}: not a git repository, so it has no history to scan")
    return _run(repo, "git", target, Processes())


def _run(repo: Repo, mode: str, target: Path, procs: Processes) -> list[SecretFinding]:
    gitleaks = toolchain.require_tool(repo, "gitleaks")
    if not config_file(repo).is_file():
        raise InputError(f"{config_file(repo)}: the secret scan configuration is missing")
    with tempfile.TemporaryDirectory(prefix="meridian-secrets-") as tmp:
        report = Path(tmp) / "report.json"
        proc = procs.run(
            gitleaks_command(repo, mode, target.resolve(), report, gitleaks), env=toolchain.tool_env(repo)
        )
        if proc.returncode != 0 or not report.is_file():
            detail = " ".join((proc.stderr or proc.stdout).split())[:400]
            raise RefusedError(f"gitleaks failed (exit {proc.returncode}): {detail}")
        try:
            entries = json.loads(report.read_text() or "[]")
        except json.JSONDecodeError as exc:
            raise RefusedError(f"gitleaks wrote an unreadable report: {exc}") from exc
    base = target.resolve() if target.is_dir() else target.resolve().parent
    findings = {
        SecretFinding(
            file=_relative(str(entry.get("File", "")), base),
            line=int(entry.get("StartLine", 0)),
            rule=str(entry.get("RuleID", "")),
            description=str(entry.get("Description", "")),
            commit=str(entry["Commit"])[:12] if entry.get("Commit") else None,
        )
        for entry in entries
    }
    return sorted(findings)


def _relative(file: str, base: Path) -> str:
    path = Path(file)
    if not path.is_absolute():
        return file
    try:
        return str(path.relative_to(base))
    except ValueError:
        return file
