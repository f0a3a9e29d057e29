"""Staging and prod take only digests that the registry holds and the release key signed
(environments/images.yaml); `meridian release` pushes, signs and opens dev's version change.

The repositories are the promotion suites' (promote_world), with environments/images.yaml added
and the environments pinned to the real digests of the seeded builds in the loopback registry."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PASSWORD, Keys, Registry
from image_seeds import REPO_ROOT, Seed, push_one
from promote.promote_world import APPS, ENVS, FAST, NOW, T1, World, build_template

from meridian.images import registry, signing
from meridian.images.config import IMAGES_FILE
from meridian.paths import Repo

pytestmark = pytest.mark.slow

INVENTED = "sha256:" + "e" * 64


@pytest.fixture(scope="session")
def supply_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("supply-template")
    build_template(path)
    return path


@pytest.fixture
def world(  # noqa: PLR0917 - pytest passes fixtures as arguments
    supply_template: Path,
    seeded: dict[Seed, registry.Pushed],
    oci_registry: Registry,
    release_keys: Keys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[World]:
    """Every environment at its real, signed build; the registry is the loopback one."""
    shutil.copytree(supply_template, tmp_path / "repo", symlinks=True)
    w = World(tmp_path / "repo", monkeypatch, capsys)
    shutil.copy2(REPO_ROOT / IMAGES_FILE, w.root / IMAGES_FILE)
    w.git("add", IMAGES_FILE)
    w.git("commit", "--quiet", "-m", "images are checked before staging and prod", when=T1)
    for env in ENVS:
        for app in APPS:
            tag = w.version(env, app).tag
            w.set_version(env, app, tag, when=T1, sha=seeded[Seed(app, tag)].digest)
    monkeypatch.setenv("MERIDIAN_REGISTRY", oci_registry.mirror)
    monkeypatch.setenv("MERIDIAN_SIGNING_PUBLIC_KEY", str(release_keys.public))
    yield w


def test_staging_takes_a_signed_build_the_registry_holds(world):
    result = world.cli("promote", "orders", "--to", "staging", *FAST)
    assert result.code == 0, result.output
    assert "promote/orders/staging/1.1.0" in world.branches()


def test_staging_refuses_a_digest_the_registry_does_not_hold(world):
    before = world.state()
    result = world.cli("promote", "orders", "--to", "staging", "--digest", INVENTED, *FAST)
    assert result.code == 1, result.output
    assert "MER-IMAGE-001 image in the registry" in result.output
    assert f"orders@{INVENTED} is not in the registry" in result.output
    assert world.state() == before


def test_prod_refuses_a_build_the_release_key_did_not_sign(world, repo, oci_registry):
    # A build that is in the registry, but was pushed without a signature, runs in staging.
    unsigned = push_one(repo, oci_registry.mirror, Seed("orders", "1.2.0")).digest
    world.set_version("staging", "orders", "1.2.0", when=T1, sha=unsigned)
    result = world.cli("promote", "orders", "--to", "prod", *FAST)
    assert result.code == 1, result.output
    assert "MER-IMAGE-002 image signed by the release key" in result.output
    assert f"orders@{unsigned} carries no valid signature" in result.output


def test_verified_environments_refuse_every_image_without_a_public_key(world, monkeypatch):
    monkeypatch.delenv("MERIDIAN_SIGNING_PUBLIC_KEY")
    result = world.cli("promote", "orders", "--to", "staging", *FAST)
    assert result.code == 1, result.output
    assert "MER-IMAGE-002" in result.output
    assert "no release public key" in result.output


def test_dev_is_not_verified_so_it_takes_a_digest_before_it_is_pushed(world):
    result = world.cli("promote", "orders", "--to", "dev", "--version", "1.3.0", "--digest", INVENTED, *FAST)
    assert "MER-IMAGE" not in result.output
    assert result.code == 0, result.output


def test_release_pushes_signs_and_commits_dev_on_a_promotion_branch(
    world, oci_registry, release_keys, monkeypatch
):
    shutil.copytree(
        REPO_ROOT / "apps" / "orders",
        world.root / "apps" / "orders",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("bin", "*.test"),
    )
    world.git("add", "apps/orders")
    world.git("commit", "--quiet", "-m", "orders' sources", when=T1)
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    result = world.cli("release", "orders", "1.4.0", "--key", str(release_keys.private), *FAST, now=NOW)
    assert result.code == 0, result.output
    repo = Repo(world.root)
    pushed = registry.digest(repo, f"{oci_registry.mirror}/orders:1.4.0")
    assert pushed is not None
    pin = world.version("dev", "orders", "promote/orders/dev/1.4.0")
    assert (pin.repository, pin.tag, pin.digest) == ("ghcr.io/meridian-platform/orders", "1.4.0", pushed)
    assert signing.verify(repo, f"{oci_registry.mirror}/orders@{pushed}", release_keys.public).signed
    config = registry.config(repo, f"{oci_registry.mirror}/orders@{pushed}")
    assert (
        config["config"]["Labels"]["org.opencontainers.image.revision"]
        == world.git("rev-parse", "HEAD").strip()
    )
