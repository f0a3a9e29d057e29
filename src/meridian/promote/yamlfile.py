"""Read a small YAML file of the repository into a pydantic model, or fail pointing at the YAML.

promotion.yaml, lock.yaml and holds.yaml are edited by hand and through pull requests; a mistake
must come back as `file:line: field: what is allowed`, never as a traceback.
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

from meridian.errors import InputError

M = TypeVar("M", bound=BaseModel)


def load_model(model: type[M], text: str, where: str, *, hint: str | None = None) -> M:
    """`where` names the file in messages (a path, or `path at REV` for a file read from git)."""
    try:
        document = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(
            f"{where}{line}: not valid YAML: {getattr(exc, 'problem', exc)}", hint=hint
        ) from None
    if not isinstance(document, CommentedMap):
        raise InputError(f"{where}: must be a mapping", hint=hint)
    try:
        return model.model_validate(_plain(document))
    except ValidationError as exc:
        problems = [_explain(model, error, document, where) for error in exc.errors()]
        raise InputError(
            f"{where}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems), hint=hint
        ) from None


def _plain(node: Any) -> Any:
    """ruamel's commented types as plain dicts and lists, so validators see ordinary values."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _explain(model: type[BaseModel], error: ErrorDetails, document: CommentedMap, where: str) -> str:
    loc = [str(part) for part in error["loc"]]
    line = _line_of(document, loc)
    place = f"{where}:{line}" if line else where
    field = ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        message = "unknown field"
        guess = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.6)
        if guess:
            message += f"; did you mean {guess[0]!r}?"
        if allowed:
            message += f" (allowed: {', '.join(allowed)})"
    else:
        message = error["msg"].removeprefix("Value error, ")
    return f"{place}: {field}: {message}"


def _allowed_keys(model: type[BaseModel], parent: list[str]) -> list[str]:
    """The keys the model accepts below `parent`, found by walking the models along the path."""
    node: Any = model
    for part in parent:
        if isinstance(node, _Keyed):
            node = node.model  # `part` was an environment or app name, or a list index
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


def _line_of(document: Any, loc: list[str]) -> int | None:
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
