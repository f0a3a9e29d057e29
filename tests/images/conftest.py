"""Fixtures of the image suites: a real OCI registry on loopback (go-containerregistry's, through
bin/meridian-image), a cosign key pair made for this run, and the seeded releases built, pushed
and signed into that registry."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from image_seeds import REPO_ROOT, SEED_REVISION, Seed, push_seeds
from meridian_core.layout import Repo
from support.oci_registry import RegistryDidNotStart, serve_registry

from meridian import toolchain
from meridian.images import registry, signing

# The signing key of this test run is made at run time; so is the passphrase that seals it.
PASSWORD = secrets.token_urlsafe(24)


def _tool(name: str) -> str:
    found = toolchain.which(Repo(REPO_ROOT), name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make tools` (tools/tools.toml names its group)")
    return found


@dataclass(frozen=True)
class Registry:
    address: str  # 127.0.0.1:PORT

    @property
    def mirror(self) -> str:
        """The forge registry's path (environments/images.yaml), served here."""
        return f"{self.address}/meridian-platform"


@pytest.fixture(scope="session")
def repo() -> Repo:
    return Repo(REPO_ROOT)


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    try:
        with serve_registry(_tool(registry.TOOL), tmp_path_factory.mktemp("registry")) as address:
            yield Registry(address)
    except RegistryDidNotStart as exc:
        pytest.fail(str(exc))


@dataclass(frozen=True)
class Keys:
    private: Path
    public: Path


@pytest.fixture(scope="session")
def release_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """A cosign key pair made for this run only: no key of the project's is ever in git."""
    cosign = _tool(signing.TOOL)
    folder = tmp_path_factory.mktemp("keys")
    proc = subprocess.run(
        [cosign, "generate-key-pair"],
        cwd=folder,
        env={**os.environ, "COSIGN_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return Keys(folder / "cosign.key", folder / "cosign.pub")


@pytest.fixture(scope="session")
def seeded(repo: Repo, oci_registry: Registry, release_keys: Keys) -> dict[Seed, registry.Pushed]:
    """The builds the environments run, rebuilt from SEED_REVISION, pushed and signed."""
    pushed = push_seeds(repo, oci_registry.mirror, SEED_REVISION)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COSIGN_PASSWORD", PASSWORD)
        for seed, image in pushed.items():
            signing.sign(repo, f"{oci_registry.mirror}/{seed.app}@{image.digest}", release_keys.private)
    return pushed
