"""Evaluate the promotion rules (policies/promotion, Rego) with conftest, the policy gate's engine.

Python gathers facts; Rego decides. Several fact documents go to one conftest process (status
asks about every app and environment at once), and each comes back with its own denials.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meridian_core.errors import RefusedError
from meridian_core.layout import PROMOTION_POLICIES, Repo

from meridian import toolchain

POLICY_DIR = PROMOTION_POLICIES
NAMESPACE = "meridian.promotion"


@dataclass(frozen=True)
class Denial:
    rule: str  # MER-PROMO-…
    title: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule} {self.title}: {self.message}"


def evaluate(repo: Repo, policies: Path, documents: Sequence[dict[str, Any]]) -> list[list[Denial]]:
    """The denials of each fact document, in order; [] for a document every rule allows."""
    if not documents:
        return []
    conftest = toolchain.require_tool(repo, "conftest")
    with tempfile.TemporaryDirectory(prefix="meridian-promotion-") as tmp:
        names = []
        for i, document in enumerate(documents):
            path = Path(tmp) / f"facts-{i}.json"
            path.write_text(json.dumps(document, sort_keys=True))
            names.append(path.name)
        command = [
            conftest,
            "test",
            "--no-color",
            "--no-fail",
            "--output",
            "json",
            "--parser",
            "json",
            "--namespace",
            NAMESPACE,
            "--policy",
            str(policies),
            *names,
        ]
        proc = toolchain.run(command, env=toolchain.tool_env(repo), cwd=Path(tmp))
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[:400]
        raise RefusedError(f"conftest could not evaluate the promotion rules: {detail}")
    try:
        results = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RefusedError(f"conftest printed no JSON report: {proc.stdout[:200]!r}") from None
    by_file: dict[str, list[Denial]] = {name: [] for name in names}
    for block in results:
        name = Path(str(block.get("filename", ""))).name
        for failure in block.get("failures") or []:
            meta = failure.get("metadata") or {}
            by_file.setdefault(name, []).append(
                Denial(
                    rule=str(meta.get("rule", "MER-PROMO-???")),
                    title=str(meta.get("title", "")),
                    message=str(meta.get("detail") or failure.get("msg", "")),
                )
            )
    return [sorted(by_file[name], key=lambda d: (d.rule, d.message)) for name in names]
