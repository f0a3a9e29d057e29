"""Read a small YAML file of the repository into a pydantic model, or fail pointing at the YAML.

promotion.yaml, lock.yaml and holds.yaml are edited by hand and through pull requests; a mistake
must come back as `file:line: field: what is allowed`, never as a traceback.
"""

from __future__ import annotations

from typing import TypeVar

from meridian_infra.spec.yamlmodel import YamlModelError, load_yaml_model
from pydantic import BaseModel

from meridian.errors import InputError

M = TypeVar("M", bound=BaseModel)


def load_model(model: type[M], text: str, where: str, *, hint: str | None = None) -> M:
    """`where` names the file in messages (a path, or `path at REV` for a file read from git)."""
    try:
        return load_yaml_model(model, text, where)
    except YamlModelError as exc:
        raise InputError(str(exc), hint=hint) from None
