"""Exemptions for objects a third-party chart renders, kept in `policies/exemptions/charts.yaml`.

Meridian's exemptions are annotations on the object itself; a chart's objects are not Meridian's to
annotate, so the file names the object (release, kind, name) and the render writes the same
annotation onto the rendered object. The gate then treats it like any other exemption: it applies
until its date, it is listed in every report, and an expired one is denied. An entry that matches
no rendered object is an error, so the file cannot keep exemptions for objects that are gone.
"""

from __future__ import annotations

import datetime
import fnmatch
from pathlib import Path
from typing import Any

import yaml
from meridian_core.errors import InputError
from meridian_core.layout import CHART_EXEMPTIONS_FILE
from pydantic import BaseModel, ConfigDict, Field, ValidationError

EXEMPTIONS_FILE = Path(CHART_EXEMPTIONS_FILE)
ANNOTATION_PREFIX = "exemption.meridian.dev/"


class ChartExemption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    release: str
    kind: str = Field(description="the object's kind; shell wildcards (*) match several")
    name: str = Field(description="the object's name; shell wildcards (*) match several")
    rules: list[str] = Field(min_length=1)
    expires: datetime.date
    reason: str = Field(min_length=10)
    environments: list[str] = Field(default_factory=lambda: ["dev", "staging", "prod"])

    def matches(self, release: str, obj: dict[str, Any]) -> bool:
        name = str((obj.get("metadata") or {}).get("name", ""))
        return (
            release == self.release
            and fnmatch.fnmatchcase(str(obj.get("kind", "")), self.kind)
            and fnmatch.fnmatchcase(name, self.name)
        )

    @property
    def annotation_value(self) -> str:
        return f"expires={self.expires.isoformat()}; reason={' '.join(self.reason.split())}"


class ChartExemptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    exemptions: list[ChartExemption] = Field(default_factory=list)


def load(root: Path) -> ChartExemptions:
    path = root / EXEMPTIONS_FILE
    if not path.is_file():
        return ChartExemptions()
    try:
        data = yaml.safe_load(path.read_text()) or {}
        return ChartExemptions.model_validate(data)
    except yaml.YAMLError as exc:
        raise InputError(f"{EXEMPTIONS_FILE}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"exemptions.{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()
        )
        raise InputError(f"{EXEMPTIONS_FILE}: {problems}") from None


def apply(exemptions: ChartExemptions, env: str, rendered: dict[str, list[dict[str, Any]]]) -> int:
    """Annotate the matching objects of every release; returns how many annotations were written."""
    written = 0
    for index, exemption in enumerate(exemptions.exemptions):
        if env not in exemption.environments:
            continue
        matched = [o for o in rendered.get(exemption.release, []) if exemption.matches(exemption.release, o)]
        if not matched:
            raise InputError(
                f"{EXEMPTIONS_FILE}: exemptions[{index}] ({exemption.kind} {exemption.name} of release "
                f"{exemption.release}) matches no object the chart renders in {env}",
                hint="remove the entry, or narrow its environments to where the object exists",
            )
        for obj in matched:
            annotations = obj.setdefault("metadata", {}).setdefault("annotations", {}) or {}
            obj["metadata"]["annotations"] = annotations
            for rule in exemption.rules:
                annotations[f"{ANNOTATION_PREFIX}{rule}"] = exemption.annotation_value
                written += 1
    return written
