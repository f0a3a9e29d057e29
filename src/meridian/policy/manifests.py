"""Find the YAML files under the paths given, parse every document and remember where each object starts.

The checkers report a file and an object (conftest) or a file and a line range (checkov); this index
turns either into file, line and object for the report. Parsing here also catches unreadable input
first, so that it is reported with its file and line instead of as a checker's failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from meridian_core.errors import InputError

from meridian.policy.model import ObjectRef

YAML_SUFFIXES = frozenset({".yaml", ".yml"})

# libyaml's parser when PyYAML was built with it (it is, in the locked wheels); the pure-Python one
# otherwise. Either way the constructor is the safe one: no Python objects from YAML tags.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Rejects duplicate keys, which the Kubernetes API and conftest's parser reject as well."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable keys are the constructor's error to report
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Document:
    file: Path  # absolute
    line: int  # 1-based line where the object starts
    end_line: int
    obj: ObjectRef | None  # None for documents that are no Kubernetes object


@dataclass
class Manifests:
    root: Path  # the repository, for showing paths relative to it
    files: list[Path]
    documents: list[Document]

    def __post_init__(self) -> None:
        self._by_object = {
            (str(d.file), d.obj.kind, d.obj.namespace, d.obj.name): d for d in self.documents if d.obj
        }
        self._by_file: dict[str, list[Document]] = {}
        for doc in self.documents:
            self._by_file.setdefault(str(doc.file), []).append(doc)

    @property
    def objects(self) -> int:
        return sum(1 for d in self.documents if d.obj)

    def find(self, file: str, obj: ObjectRef) -> Document | None:
        return self._by_object.get((file, obj.kind, obj.namespace, obj.name))

    def document_at(self, file: str, line: int) -> Document | None:
        for doc in self._by_file.get(file, ()):
            if doc.line <= line <= doc.end_line:
                return doc
        return None

    def display(self, path: str | Path) -> str:
        return display_path(self.root, Path(path))


def display_path(root: Path, path: Path) -> str:
    """A path as people want to read it: relative to the repository, else to the working folder."""
    for base in (root, Path.cwd()):
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


def collect(paths: Sequence[Path]) -> list[Path]:
    """Every YAML file named or found under the folders named, absolute, each once, in a stable order."""
    found: dict[Path, None] = {}
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                relative = candidate.relative_to(path).parts
                # Hidden folders (.git, .venv, …) hold tooling, not manifests.
                if any(part.startswith(".") for part in relative[:-1]):
                    continue
                if candidate.suffix in YAML_SUFFIXES and candidate.is_file():
                    found[candidate.resolve()] = None
        else:
            found[path.resolve()] = None  # a file named explicitly is read as YAML whatever its name
    if not found:
        raise InputError(
            f"no YAML files found in {', '.join(map(str, paths))}",
            hint="name Kubernetes manifests (*.yaml, *.yml) or folders that hold them",
        )
    return list(found)


def load(root: Path, files: Iterable[Path]) -> Manifests:
    file_list = list(files)
    documents: list[Document] = []
    for file in file_list:
        documents.extend(parse_file(root, file))
    return Manifests(root=root, files=file_list, documents=documents)


def parse_file(root: Path, file: Path) -> list[Document]:
    shown = display_path(root, file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{shown}: cannot read: {exc}") from exc
    loader = _StrictLoader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            documents.extend(_documents(file, node, data))
    except yaml.YAMLError as exc:
        raise InputError(_yaml_error(shown, exc), hint="fix the YAML; every document must parse") from exc
    finally:
        loader.dispose()
    return documents


def _documents(file: Path, node: yaml.Node, data: object) -> list[Document]:
    if not isinstance(data, dict):
        return []
    if data.get("kind") == "List" and isinstance(data.get("items"), list):
        items = _list_item_nodes(node)
        return [
            doc
            for item, item_node in zip(data["items"], items, strict=False)
            for doc in _documents(file, item_node, item)
        ]
    return [
        Document(
            file=file,
            line=node.start_mark.line + 1,
            end_line=max(node.end_mark.line, node.start_mark.line + 1),
            obj=object_ref(data),
        )
    ]


def _list_item_nodes(node: yaml.Node) -> list[yaml.Node]:
    for key, value in node.value:
        if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
            return list(value.value)
    return []


def object_ref(data: dict[str, Any]) -> ObjectRef | None:
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind:
        return None
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    return ObjectRef(kind, str(metadata.get("namespace") or ""), str(metadata.get("name") or "<unnamed>"))


def _yaml_error(shown: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = f"{shown}:{mark.line + 1}" if mark is not None else shown
    detail = f"{context}: {problem}" if context else str(problem)
    return f"{where}: not valid YAML ({detail})"
