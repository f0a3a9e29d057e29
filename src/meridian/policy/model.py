"""What the gate reports: findings, exemptions and the verdict, independent of any output format."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from meridian_core.exitcodes import ExitCode


class Severity(StrEnum):
    DENY = "deny"  # fails the gate
    WARN = "warn"  # reported, never fails the gate


@dataclass(frozen=True, order=True)
class ObjectRef:
    """A Kubernetes object (or, for Dockerfiles and workflows, the file itself) findings are about."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Finding:
    rule: str  # MER-…, a checkov check id (CKV_…), or gitleaks:<rule> for secrets
    severity: Severity
    message: str  # one line: the object and how to fix it
    file: str  # as shown to people: relative to the repository when inside it
    line: int | None
    obj: ObjectRef | None
    source: str  # conftest, checkov or gitleaks
    title: str = ""
    reference: str = ""  # the standard the rule comes from
    url: str = ""
    environment: str | None = None

    @property
    def detail(self) -> str:
        """The message without the object it starts with, for reports that show the object apart."""
        return self.message.removeprefix(f"{self.obj}: ") if self.obj else self.message

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def one_line(self) -> str:
        """`RULE object (file:line): message`: one finding as promotions and logs list them."""
        return f"{self.rule} {self.obj or '(file)'} ({self.where}): {self.detail}"


@dataclass(frozen=True)
class Exemption:
    rule: str
    status: str  # active, expired or invalid
    expires: str
    reason: str
    file: str
    line: int | None
    obj: ObjectRef
    environment: str | None = None


@dataclass
class GateReport:
    findings: list[Finding] = field(default_factory=list)
    exemptions: list[Exemption] = field(default_factory=list)
    environments: tuple[str, ...] = ()
    files: int = 0
    objects: int = 0
    tools: tuple[str, ...] = ()  # the checkers that ran
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per step
    # Per environment: how many of the objects checked were rendered from the platform's Helm charts.
    chart_objects: dict[str, int] = field(default_factory=dict)

    @property
    def denied(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.DENY]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARN]

    @property
    def passed(self) -> bool:
        return not self.denied

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.passed else ExitCode.REFUSED

    def summary(self) -> str:
        where = f"{', '.join(self.environments)}: " if self.environments else ""
        verdict = "passed" if self.passed else "FAILED"
        charts = ", ".join(f"{env} {count}" for env, count in self.chart_objects.items())
        return (
            f"{where}{verdict}: {self.objects} objects in {self.files} files"
            + (f" (chart objects: {charts})" if charts else "")
            + f", {len(self.denied)} denied, {len(self.warnings)} warnings, {len(self.exemptions)} exemptions"
        )
