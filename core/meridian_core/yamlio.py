"""Multi-document YAML in and out, one way for the whole CLI (ruamel.yaml, block style, stable key order)."""

from __future__ import annotations

from collections.abc import Iterable
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096  # long strings (embedded configs) stay on one line instead of folding
    return yaml


def dump_all(documents: Iterable[Any]) -> str:
    buffer = StringIO()
    _yaml().dump_all(list(documents), buffer)
    return buffer.getvalue()


def write_all(path: Path, documents: Iterable[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_all(documents))


def load_all(text: str) -> list[Any]:
    return [doc for doc in _yaml().load_all(text) if doc is not None]


def plain(node: Any) -> Any:
    """ruamel's round-trip types (CommentedMap, CommentedSeq) as plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node
