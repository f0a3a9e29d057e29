"""The manifest fixtures of the policy gate suites and how to read what each must trigger."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN = sorted((FIXTURES / "broken").glob("*.yaml"))
HARDENED = FIXTURES / "hardened"


@dataclass(frozen=True)
class BrokenFixture:
    path: Path
    expected: frozenset[str]  # every rule id the file must trigger, and no other
    environment: str | None


def broken_fixture(path: Path) -> BrokenFixture:
    """Each broken manifest says in its header what it must trigger: `# expect: ID[, ID]`, and
    optionally `# environment: prod` for rules that apply to one environment."""
    text = path.read_text()
    expect = re.search(r"^# expect: (.+)$", text, re.MULTILINE)
    assert expect, f"{path.name} has no '# expect:' line"
    env = re.search(r"^# environment: (\S+)$", text, re.MULTILINE)
    return BrokenFixture(
        path=path,
        expected=frozenset(rule.strip() for rule in expect.group(1).split(",")),
        environment=env.group(1) if env else None,
    )
