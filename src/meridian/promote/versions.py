"""An app's version in an environment: `environments/<env>/apps/<app>/version.yaml`.

The file is a strategic-merge patch of the Deployment with two version fields that must agree:
the container image `<repository>:<tag>@sha256:<digest>` and the pod label
`app.kubernetes.io/version: "<tag>"`. A promotion rewrites exactly those two fields through a
ruamel round trip, so the file's comments and layout survive.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from io import StringIO
from typing import Any

from meridian_core.errors import InputError
from meridian_core.yamlmodel import plain
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

VERSION_LABEL = "app.kubernetes.io/version"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Pin:
    """What an environment runs of an app: image repository, tag, digest (if known) and label."""

    repository: str
    tag: str
    digest: str | None
    label: str | None = None

    @property
    def version(self) -> str:
        return self.tag

    @property
    def image(self) -> str:
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")

    def same_build(self, other: Pin | None) -> bool:
        return other is not None and (self.tag, self.digest) == (other.tag, other.digest)

    def __str__(self) -> str:
        return self.tag + (f" ({self.digest[:19]}…)" if self.digest else "")


def parse_image(image: str) -> tuple[str, str, str | None]:
    """(repository, tag, digest) of `registry:5000/team/app:1.2.3@sha256:…`; tag "" when absent."""
    name, _, digest = image.partition("@")
    head, _, last = name.rpartition("/")
    repository, tag = last, ""
    if ":" in last:
        repository, _, tag = last.partition(":")
    repository = f"{head}/{repository}" if head else repository
    return repository, tag, digest or None


def valid_tag(tag: str) -> bool:
    return bool(_TAG.match(tag))


def valid_digest(digest: str) -> bool:
    return bool(_DIGEST.match(digest))


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)  # the layout of the repository's overlays
    return yaml


def _load(text: str, where: str) -> CommentedMap:
    try:
        doc = _yaml().load(text)
    except YAMLError as exc:
        raise InputError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, CommentedMap):
        raise InputError(f"{where}: must be one Deployment patch (a mapping)")
    return doc


def _container(doc: CommentedMap, app: str, where: str) -> CommentedMap:
    containers = _dig(doc, "spec", "template", "spec", "containers")
    if not isinstance(containers, list) or not containers:
        raise InputError(f"{where}: spec.template.spec.containers is missing", hint=_HINT)
    named = [c for c in containers if isinstance(c, CommentedMap) and c.get("name") == app]
    if named:
        return named[0]
    if len(containers) == 1 and isinstance(containers[0], CommentedMap):
        return containers[0]
    raise InputError(f"{where}: no container named {app!r}", hint=_HINT)


_HINT = "version.yaml patches the Deployment's image and its app.kubernetes.io/version label"


def _dig(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def read_pin(text: str, app: str, where: str) -> Pin:
    doc = _load(text, where)
    image = _container(doc, app, where).get("image")
    if not isinstance(image, str) or not image:
        raise InputError(f"{where}: the {app} container has no image", hint=_HINT)
    repository, tag, digest = parse_image(image)
    labels = _dig(doc, "spec", "template", "metadata", "labels")
    label = labels.get(VERSION_LABEL) if isinstance(labels, dict) else None
    return Pin(repository, tag, digest, None if label is None else str(label))


def write_pin(text: str, app: str, pin: Pin, where: str) -> str:
    """The same file with the image and the version label set to `pin`; everything else as it was."""
    doc = _load(text, where)
    _container(doc, app, where)["image"] = pin.image
    template = doc.setdefault("spec", CommentedMap()).setdefault("template", CommentedMap())
    labels = template.setdefault("metadata", CommentedMap()).setdefault("labels", CommentedMap())
    # Quoted, always: an unquoted 1.10 would be read back as the number 1.1.
    labels[VERSION_LABEL] = DoubleQuotedScalarString(pin.tag)
    buffer = StringIO()
    _yaml().dump(doc, buffer)
    return buffer.getvalue()


def without_version_fields(text: str, app: str, where: str) -> Any:
    """The patch with its two version fields blanked: equal before and after a pure promotion."""
    doc = copy.deepcopy(_load(text, where))
    _container(doc, app, where)["image"] = ""
    labels = _dig(doc, "spec", "template", "metadata", "labels")
    if isinstance(labels, dict):
        labels.pop(VERSION_LABEL, None)
    return plain(doc)
