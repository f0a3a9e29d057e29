"""Read `environments/<env>/platform.yaml` into an EnvironmentSpec, or fail with errors pointing at the YAML.

Each error names the file, the line, the field path and what is allowed, and suggests the nearest
valid key for a typo — before any Pulumi resource is declared.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from meridian_infra.spec.models import EnvironmentSpec

SPEC_FILE = "platform.yaml"


@dataclass(frozen=True)
class SpecProblem:
    path: str  # dotted field path, e.g. "apps.orders.maxReplicas"
    line: int | None
    message: str


class SpecError(Exception):
    """A platform spec that cannot be used; str() lists every problem with file and line."""

    def __init__(self, file: Path, problems: list[SpecProblem]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {len(problems)} problem(s) in the environment spec"]
        for problem in problems:
            where = f"{file}:{problem.line}" if problem.line else str(file)
            lines.append(f"  {where}: {problem.path or '(top level)'}: {problem.message}")
        super().__init__("\n".join(lines))


def spec_path(environments_dir: Path, env: str) -> Path:
    return environments_dir / env / SPEC_FILE


def load_environment(environments_dir: Path, env: str) -> EnvironmentSpec:
    """The spec of `env`; its `name` must match the folder it lives in."""
    path = spec_path(environments_dir, env)
    if not path.is_file():
        known = sorted(p.parent.name for p in environments_dir.glob(f"*/{SPEC_FILE}"))
        raise SpecError(
            path, [SpecProblem("", None, f"no such environment {env!r}; known: {', '.join(known)}")]
        )
    spec = load_spec_file(path)
    if spec.name != env:
        raise SpecError(path, [SpecProblem("name", None, f"is {spec.name!r} but the folder is {env!r}")])
    return spec


def load_spec_file(path: Path) -> EnvironmentSpec:
    try:
        document = YAML(typ="rt").load(path.read_text())
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise SpecError(
            path, [SpecProblem("", line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from None
    except OSError as exc:
        raise SpecError(path, [SpecProblem("", None, f"cannot read: {exc.strerror}")]) from None
    if not isinstance(document, CommentedMap):
        raise SpecError(path, [SpecProblem("", None, "must be a mapping of settings")])
    try:
        return EnvironmentSpec.model_validate(document)
    except ValidationError as exc:
        raise SpecError(path, [_explain(error, document) for error in exc.errors()]) from None


def _explain(error: ErrorDetails, document: CommentedMap) -> SpecProblem:
    loc = [str(part) for part in error["loc"]]
    line = _line_of(document, loc)
    if error["type"] == "extra_forbidden":
        return SpecProblem(".".join(loc), line, _unknown_key_message(loc))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "enum":
        message += " (case matters)"
    return SpecProblem(".".join(loc), line, message)


def _unknown_key_message(loc: list[str]) -> str:
    allowed = _allowed_keys(loc[:-1])
    message = "unknown field"
    guess = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.6)
    if guess:
        message += f"; did you mean {guess[0]!r}?"
    if allowed:
        message += f" (allowed: {', '.join(allowed)})"
    return message


def _allowed_keys(parent: list[str]) -> list[str]:
    """The keys the model accepts below `parent`, found by walking the pydantic models along the path."""
    node: type[BaseModel] | _DictOf | None = EnvironmentSpec
    for part in parent:
        if isinstance(node, _DictOf):
            node = node.model  # `part` is a free-form key such as an app name
        elif node is not None:
            field = next((f for name, f in node.model_fields.items() if part in (name, f.alias)), None)
            node = _node_for(field.annotation) if field is not None else None
    if isinstance(node, type):
        return [field.alias or name for name, field in node.model_fields.items()]
    return []


@dataclass(frozen=True)
class _DictOf:
    """A dict whose values are `model`: the next path part is a free-form key."""

    model: type[BaseModel]


def _node_for(annotation: Any) -> type[BaseModel] | _DictOf | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = [
        a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)
    ]
    if not args:
        return None
    return _DictOf(args[-1]) if getattr(annotation, "__origin__", None) is dict else args[-1]


def _line_of(document: Any, loc: list[str]) -> int | None:
    """1-based line of the deepest part of `loc` that exists in the YAML document."""
    node, line = document, None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            position = node.lc.key(part)
            line = position[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and part.isdigit() and int(part) < len(node):
            line = node.lc.item(int(part))[0] + 1
            node = node[int(part)]
        else:
            break
    return line
