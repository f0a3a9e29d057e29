"""The apps' images, built without a container engine from the seed commit, pushed to a registry on
loopback and pulled back by digest: what the environments run is what these builds make."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Registry
from image_seeds import SEED_REVISION, Seed, archive_env, pins, push_one, verify_archive
from meridian_core.errors import ConflictError
from meridian_core.git import Git
from meridian_core.layout import Repo
from meridian_core.snapshot import WorkingTree

from meridian.images import build, registry
from meridian.promote.images_file import read_config

pytestmark = pytest.mark.slow

OCI = "org.opencontainers.image."


def _by_digest(oci_registry: Registry, seed: Seed, pushed: dict[Seed, registry.Pushed]) -> str:
    return f"{oci_registry.mirror}/{seed.app}@{pushed[seed].digest}"


def test_every_environment_pins_the_digest_a_build_of_the_seed_commit_makes(seeded, repo, oci_registry):
    for (env, app), pin in pins(repo.root).items():
        built = seeded[Seed(app, pin.tag)].digest
        assert pin.digest == built, (
            f"environments/{env}/apps/{app}/version.yaml pins {pin.digest}, the build of {app} {pin.tag} "
            f"at {SEED_REVISION[:10]} is {built}: run tests/images/image_seeds.py (its docstring says how)"
        )
        assert registry.digest(repo, f"{oci_registry.mirror}/{app}@{pin.digest}") == pin.digest


def test_a_second_build_of_the_same_commit_has_the_same_digest(seeded, repo, oci_registry, tmp_path):
    for app in build.APPS:
        seed = Seed(app, "1.1.0")
        again = push_one(repo, f"{oci_registry.mirror}/again", seed)
        assert again.digest == seeded[seed].digest
        assert again.layers == seeded[seed].layers


def test_images_run_as_nonroot_and_carry_source_revision_and_version(seeded, repo, oci_registry):
    for seed in seeded:
        cfg = registry.config(repo, _by_digest(oci_registry, seed, seeded))
        assert cfg["config"]["User"] == "65532:65532"
        labels = cfg["config"]["Labels"]
        assert labels[OCI + "revision"] == SEED_REVISION
        assert labels[OCI + "version"] == seed.version
        assert labels[OCI + "source"] == "https://github.com/meridian-platform/meridian"
        # Every timestamp is the commit's time (SOURCE_DATE_EPOCH), never the build's.
        epoch = int(Git(repo.root).run("log", "-1", "--format=%ct", SEED_REVISION).strip())
        created = {cfg["created"], *(entry["created"] for entry in cfg["history"])}
        assert created == {datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _pulled(repo: Repo, ref: str, into: Path) -> tuple[Path, dict[str, Any]]:
    """The image's file system unpacked into a folder, and its config."""
    tar = into / "fs.tar"
    registry.export(repo, ref, tar)
    rootfs = into / "rootfs"
    with tarfile.open(tar) as archive:
        archive.extractall(rootfs, filter="tar")
    return rootfs, registry.config(repo, ref)["config"]


def _run_inside(rootfs: Path, env: list[str], *argv: str) -> subprocess.CompletedProcess[str]:
    """argv in the unpacked image as uid/gid 65532: chroot as root, else a user namespace."""
    if os.geteuid() == 0:
        command = ["chroot", "--userspec=65532:65532", str(rootfs), *argv]
    else:
        command = ["unshare", "--user", "--map-root-user", f"--root={rootfs}", *argv]
    environ = dict(item.split("=", 1) for item in env)
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120, check=False)


def test_orders_binary_starts_from_the_pulled_image(seeded, repo, oci_registry, tmp_path):
    rootfs, cfg = _pulled(repo, _by_digest(oci_registry, Seed("orders", "1.1.0"), seeded), tmp_path)
    assert (rootfs / "etc/passwd").read_text().splitlines()[1].startswith("nonroot:x:65532:65532:")
    assert b"BEGIN CERTIFICATE" in (rootfs / "etc/ssl/certs/ca-certificates.crt").read_bytes()
    proc = _run_inside(rootfs, cfg["Env"], *cfg["Entrypoint"], "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"orders 1.1.0 (revision {SEED_REVISION})"


def test_inventory_module_starts_from_the_pulled_image(seeded, repo, oci_registry, tmp_path):
    rootfs, cfg = _pulled(repo, _by_digest(oci_registry, Seed("inventory", "1.1.0"), seeded), tmp_path)
    assert not list(rootfs.rglob("*.pyc")), "bytecode files carry timestamps: none belong in the image"
    imports = _run_inside(
        rootfs,
        cfg["Env"],
        "/usr/bin/python3.11",
        "-c",
        "import json, ssl, grpc, psycopg, meridian_inventory.server as s; "
        "print(json.dumps([psycopg.pq.__impl__, ssl.OPENSSL_VERSION.split()[0], s.__name__]))",
    )
    # The service takes no flags: started without its settings it must fail on configuration,
    # after every module of it has been imported.
    started = _run_inside(rootfs, cfg["Env"], *cfg["Entrypoint"])
    assert imports.returncode == 0, imports.stderr
    assert json.loads(imports.stdout) == ["binary", "OpenSSL", "meridian_inventory.server"]
    assert started.returncode == 2, started.stderr
    assert "inventory: configuration error" in started.stderr


def test_a_released_tag_never_moves_to_another_build(seeded, repo, oci_registry, tmp_path):
    config = read_config(WorkingTree(repo.root))
    assert config is not None
    source = build.export_source(Git(repo.root), SEED_REVISION, tmp_path, "orders")
    with pytest.raises(ConflictError, match=r"orders:1\.0\.0 already names"):
        # 1.1.0's build, pushed under the released 1.0.0 tag.
        build.build_and_push(
            repo,
            source,
            build.Request("orders", "1.1.0", config.source),
            f"{oci_registry.mirror}/orders:1.0.0",
        )
    assert (
        registry.digest(repo, f"{oci_registry.mirror}/orders:1.0.0") == seeded[Seed("orders", "1.0.0")].digest
    )


def test_a_digest_no_build_made_is_not_in_the_registry(seeded, repo, oci_registry):
    invented = "sha256:" + "0" * 64
    assert registry.digest(repo, f"{oci_registry.mirror}/orders@{invented}") is None


def test_the_builds_an_environment_runs_archive_for_a_cluster_named_by_tag_and_digest(repo, tmp_path):
    # What the e2e workflow imports into its kind nodes: the kubelet asks for IMAGE:TAG@DIGEST,
    # which containerd's CRI resolves by the name REPOSITORY@DIGEST.
    archives = archive_env(repo, "dev", tmp_path)

    assert sorted(archives) == sorted(build.APPS)
    for app, archive in archives.items():
        pin = pins(repo.root)[("dev", app)]
        assert verify_archive(archive) == {
            f"{pin.repository}:{pin.tag}": pin.digest,
            f"{pin.repository}@{pin.digest}": pin.digest,
        }
