"""environments/images.yaml: the registry images go to, the label of their source, and which
environments take only images that the registry holds and the release key signed."""

from __future__ import annotations

import os
import re

from meridian_core.errors import InputError
from meridian_core.layout import ENVIRONMENTS, environment_file
from meridian_core.snapshot import Snapshot
from meridian_core.yamlmodel import load_model
from pydantic import BaseModel, ConfigDict, Field, field_validator

IMAGES_FILE = environment_file("images.yaml")
REGISTRY_VARIABLE = "MERIDIAN_REGISTRY"
PUBLIC_KEY_VARIABLE = "MERIDIAN_SIGNING_PUBLIC_KEY"
PUBLIC_KEY_EXAMPLE = "policies/signing/release.pub"

# host[:port]/path, lower case: what an image name is made of, without tag or digest.
_REGISTRY = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$")


def valid_registry(value: str) -> bool:
    return bool(_REGISTRY.match(value))


class ImagesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    registry: str
    source: str
    verified: list[str] = Field(default_factory=list)
    public_key: str | None = Field(default=None, alias="publicKey")

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str) -> str:
        if not valid_registry(value):
            raise ValueError(f"{value!r} is not a registry and path, e.g. ghcr.io/meridian-platform")
        return value

    @field_validator("public_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        # Read from the commit being judged, like the rules: a path inside the repository.
        if value is not None and (value.startswith("/") or ".." in value.split("/") or not value.strip()):
            raise ValueError(f"{value!r} is not a path in the repository, e.g. {PUBLIC_KEY_EXAMPLE}")
        return value

    @field_validator("verified")
    @classmethod
    def _environments(cls, value: list[str]) -> list[str]:
        unknown = [env for env in value if env not in ENVIRONMENTS]
        if unknown:
            raise ValueError(f"unknown environment(s) {', '.join(unknown)}; known: {', '.join(ENVIRONMENTS)}")
        return value

    def push_registry(self, override: str | None = None) -> str:
        """Where images go and are looked up: --registry, else $MERIDIAN_REGISTRY, else the file's."""
        chosen = override or os.environ.get(REGISTRY_VARIABLE) or self.registry
        chosen = chosen.removeprefix("oci://").rstrip("/")
        if not valid_registry(chosen):
            raise InputError(
                f"registry {chosen!r} is not a registry and path",
                hint=f"e.g. 127.0.0.1:5000/meridian-platform (--registry or ${REGISTRY_VARIABLE})",
            )
        return chosen

    def located(self, repository: str, override: str | None = None) -> str:
        """Where `repository` (as version.yaml names it) is found: in the mirror, if one is set."""
        mirror = self.push_registry(override)
        prefix = self.registry + "/"
        return mirror + "/" + repository.removeprefix(prefix) if repository.startswith(prefix) else repository


def read_config(snapshot: Snapshot) -> ImagesConfig | None:
    """The file at `snapshot`, or None where the repository has none (no supply-chain rules)."""
    data = snapshot.read(IMAGES_FILE)
    if data is None:
        return None
    return load_model(ImagesConfig, data.decode(), snapshot.describe(IMAGES_FILE))
