"""Staging and prod take only digests that the registry holds and the release key signed
(environments/images.yaml), whether the change is made by `meridian promote` or written by hand
and judged by `meridian promote check`; `meridian release` pushes, signs and opens dev's version
change.

The repositories are the promotion suites' (promote_world), with environments/images.yaml added
and the environments pinned to the real digests of the seeded builds in the loopback registry.
INVENTED is the one digest here that no build made: the digest a person might type."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import PASSWORD, Keys, Registry, _tool
from image_seeds import REPO_ROOT, Seed, push_one
from meridian_core.layout import Repo
from promote.promote_world import APPS, ENVS, FAST, NOW, T1, World, build_template

from meridian.images import registry, signing
from meridian.promote.images_file import IMAGES_FILE
from meridian.promote.versions import read_pin, write_pin

pytestmark = pytest.mark.slow

INVENTED = "sha256:" + "e" * 64
UPSTREAM = {"staging": "dev", "prod": "staging"}  # where each verified environment promotes from
RULES = {
    "invented": "MER-IMAGE-001 image in the registry",
    "unsigned": "MER-IMAGE-002 image signed by the release key",
}


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


@pytest.fixture(scope="session")
def unsigned(repo: Repo, oci_registry: Registry, seeded: dict[Seed, registry.Pushed]) -> str:
    """A real build of orders 1.2.0 in the registry, pushed without a signature."""
    return push_one(repo, oci_registry.mirror, Seed("orders", "1.2.0")).digest


def _build(kind: str, unsigned: str) -> tuple[str, str]:
    """(tag, digest) of a build the verified environments must refuse."""
    return ("1.1.0", INVENTED) if kind == "invented" else ("1.2.0", unsigned)


def _runs_upstream(world: World, env: str, tag: str, digest: str) -> None:
    """The environment `env` promotes from runs `tag@digest` on main, long enough to have soaked.

    For staging that is dev, which is not verified and takes any build; for prod it is staging, as
    it would be had the build landed there before environments/images.yaml verified staging."""
    world.set_version(UPSTREAM[env], "orders", tag, when=T1, sha=digest)


def _by_hand(world: World, branch: str, env: str, also: dict[Path, Path] | None = None) -> None:
    """A pull request written in an editor: `env`'s orders gets the image and label its upstream
    runs (and files in `also` are replaced by others, in the same commit)."""
    upstream = world.version(UPSTREAM[env], "orders")
    path = world.root / "environments" / env / "apps" / "orders" / "version.yaml"
    world.git("switch", "--quiet", "-c", branch)
    text = path.read_text()
    assert read_pin(text, "orders", str(path)) != upstream
    path.write_text(write_pin(text, "orders", upstream, str(path)))
    for target, replacement in (also or {}).items():
        shutil.copy2(replacement, target)
    world.git("commit", "--quiet", "-am", f"{env}: orders {upstream.tag}", when=NOW - timedelta(hours=1))
    world.git("switch", "--quiet", "main")


@pytest.mark.parametrize("env", ["staging", "prod"])
@pytest.mark.parametrize("kind", ["invented", "unsigned"])
def test_a_promotion_of_an_invented_or_unsigned_build_is_refused(world, unsigned, env, kind):
    tag, digest = _build(kind, unsigned)
    _runs_upstream(world, env, tag, digest)
    before = world.state()

    result = world.cli("promote", "orders", "--to", env, *FAST)

    assert result.code == 1, result.output
    assert RULES[kind] in result.stderr
    assert "MER-PROMO" not in result.stderr  # every promotion rule holds: only the supply chain refuses
    assert f"orders@{digest}" in result.stderr
    assert world.state() == before


@pytest.mark.parametrize("env", ["staging", "prod"])
@pytest.mark.parametrize("kind", ["invented", "unsigned"])
def test_a_hand_written_change_to_an_invented_or_unsigned_build_fails_the_check(world, unsigned, env, kind):
    tag, digest = _build(kind, unsigned)
    _runs_upstream(world, env, tag, digest)
    _by_hand(world, "by-hand", env)

    result = world.cli("promote", "check", "main..by-hand", *FAST)

    assert result.code == 1, result.output
    assert "not a legal promotion" in result.stderr
    assert RULES[kind] in result.stderr
    assert "MER-PROMO" not in result.stderr
    assert f"orders@{digest}" in result.stderr


def test_a_hand_written_change_to_the_signed_build_upstream_passes_the_check(world):
    _by_hand(world, "by-hand", "staging")

    result = world.cli("promote", "check", "main..by-hand", *FAST)

    assert result.code == 0, result.output
    assert "promotion of orders 1.0.0 → 1.1.0 in staging" in result.stdout
    assert "policy gate: staging: passed" in result.stdout


def test_the_check_verifies_with_the_release_key_committed_at_base_not_the_changes(  # noqa: PLR0917
    world, repo, oci_registry, release_keys, tmp_path, monkeypatch
):
    # The release key's public half is committed, as in a configured repository; it verifies the
    # release key's builds.
    monkeypatch.delenv("MERIDIAN_SIGNING_PUBLIC_KEY")
    key = world.root / "policies" / "signing" / "release.pub"
    key.parent.mkdir(parents=True)
    shutil.copy2(release_keys.public, key)
    config = world.root / IMAGES_FILE
    config.write_text(
        config.read_text().replace("publicKey: null", "publicKey: policies/signing/release.pub")
    )
    world.git("add", "--all")
    world.git("commit", "--quiet", "-m", "the release key's public half", when=T1)
    signed = world.cli("promote", "plan", "orders", "--to", "staging", *FAST)
    # Another key signs a build, and a pull request brings that key along with the build.
    (tmp_path / "other").mkdir()
    env = {**os.environ, "COSIGN_PASSWORD": PASSWORD}
    cosign = _tool(signing.TOOL)
    subprocess.run(
        [cosign, "generate-key-pair"], cwd=tmp_path / "other", env=env, check=True, capture_output=True
    )
    theirs = push_one(repo, oci_registry.mirror, Seed("orders", "1.3.0")).digest
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    signing.sign(repo, f"{oci_registry.mirror}/orders@{theirs}", tmp_path / "other" / "cosign.key")
    _runs_upstream(world, "staging", "1.3.0", theirs)
    _by_hand(world, "their-key", "staging", also={key: tmp_path / "other" / "cosign.pub"})
    world.git("switch", "--quiet", "their-key")  # as CI checks the pull request out

    result = world.cli("promote", "check", "main..their-key", *FAST)

    assert signed.code == 0, signed.output
    assert result.code == 1, result.output
    assert f"orders@{theirs} carries no valid signature of the release key" in " ".join(result.stderr.split())


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


def test_verified_environments_refuse_every_image_without_a_public_key_and_say_how_to_make_one(
    world, monkeypatch
):
    monkeypatch.delenv("MERIDIAN_SIGNING_PUBLIC_KEY")
    result = world.cli("promote", "orders", "--to", "staging", *FAST)
    assert result.code == 1, result.output
    message = " ".join(result.stderr.split())
    assert "MER-IMAGE-002 image signed by the release key" in message
    assert "no release public key is configured (publicKey in environments/images.yaml is null)" in message
    assert "cosign generate-key-pair" in message
    assert "set `publicKey: policies/signing/release.pub` in environments/images.yaml" in message
    assert "never commit the private half, cosign.key" in message
    assert "repository secrets COSIGN_PRIVATE_KEY and COSIGN_PASSWORD" in message


def test_a_private_key_named_as_the_public_key_is_refused(world, release_keys, monkeypatch):
    monkeypatch.setenv("MERIDIAN_SIGNING_PUBLIC_KEY", str(release_keys.private))
    result = world.cli("promote", "orders", "--to", "staging", *FAST)
    assert result.code == 1, result.output
    assert "is a private key: only the public half belongs there" in result.stderr


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
