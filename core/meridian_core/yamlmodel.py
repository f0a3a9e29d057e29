"""YAML edited by hand, read into a pydantic model, with errors that point at the YAML.

Every problem names the file, the line, the field path and what is allowed, and suggests the
nearest valid key for a typo. The environment spec and the promotion files all read this way.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from meridian_core.errors import InputError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    path: str  # dotted field path, e.g. "apps.orders.maxReplicas"
    line: int | None
    message: str


class YamlModelError(Exception):
    """A document that cannot be used; str() lists every problem with file and line."""

    def __init__(self, where: str, problems: list[Problem]) -> None:
        self.where = where
        self.problems = problems
        lines = [f"{where}: {len(problems)} problem(s)"]
        for problem in problems:
            place = f"{where}:{problem.line}" if problem.line else where
            lines.append(f"  {place}: {problem.path or '(top level)'}: {problem.message}")
        super().__init__("\n".join(lines))


def load_yaml_model(model: type[M], text: str, where: str) -> M:
    """`where` names the document in messages: a path, or `path at REV` for a file read from git."""
    try:
        document = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise YamlModelError(
            where, [Problem("", line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from None
    if not isinstance(document, CommentedMap):
        raise YamlModelError(where, [Problem("", None, "must be a mapping of settings")])
    try:
        return model.model_validate(plain(document))
    except ValidationError as exc:
        raise YamlModelError(where, [_explain(model, error, document) for error in exc.errors()]) from None


def plain(node: Any) -> Any:
    """ruamel's commented types as plain dicts and lists, so validators see ordinary values."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


def _explain(model: type[BaseModel], error: ErrorDetails, document: CommentedMap) -> Problem:
    loc = [str(part) for part in error["loc"]]
    line = line_of(document, loc)
    if error["type"] == "extra_forbidden":
        allowed = allowed_keys(model, loc[:-1])
        message = "unknown field"
        guess = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.6)
        if guess:
            message += f"; did you mean {guess[0]!r}?"
        if allowed:
            message += f" (allowed: {', '.join(allowed)})"
        return Problem(".".join(loc), line, message)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "enum":
        message += " (case matters)"
    return Problem(".".join(loc), line, message)


def allowed_keys(model: type[BaseModel], parent: list[str]) -> list[str]:
    """The keys the model accepts below `parent`, found by walking the models along the path."""
    node: Any = model
    for part in parent:
        if isinstance(node, _Keyed):
            node = node.model  # `part` was a free-form key (an app name) or a list index
        elif isinstance(node, type) and issubclass(node, BaseModel):
            field = next((f for n, f in node.model_fields.items() if part in (n, f.alias)), None)
            node = _next(field.annotation) if field is not None else None
        else:
            return []
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or n for n, f in node.model_fields.items()]
    return []


@dataclass(frozen=True)
class _Keyed:
    """A dict or list of `model`: the next path part is a key or an index, not a field."""

    model: Any


def _next(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = list(getattr(annotation, "__args__", ()))
    if getattr(annotation, "__origin__", None) in (dict, list):
        return _Keyed(_next(args[-1]))
    for arg in args:  # an optional field: M | None
        found = _next(arg)
        if found is not None:
            return found
    return None


def line_of(document: Any, loc: list[str]) -> int | None:
    """1-based line of the deepest part of `loc` that exists in the YAML document."""
    node, line = document, None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and part.isdigit() and int(part) < len(node):
            line = node.lc.item(int(part))[0] + 1
            node = node[int(part)]
        else:
            break
    return line


def load_model(model: type[M], text: str, where: str, *, hint: str | None = None) -> M:
    """load_yaml_model for the CLI: a document that cannot be used is an input error (exit 2)."""
    try:
        return load_yaml_model(model, text, where)
    except YamlModelError as exc:
        raise InputError(str(exc), hint=hint) from None
