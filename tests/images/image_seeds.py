"""The builds that environments/*/apps/*/version.yaml run, and how to make them again.

Every one is `meridian release APP VERSION --revision SEED_REVISION`: the digests in the six
version.yaml files are those builds' digests, so a test registry that holds the rebuilt images
resolves every image the environments name. A change to the image recipe (src/meridian/images,
tools/image) changes the digests. Then start a loopback registry (`bin/meridian-image registry`),
run `.venv/bin/python tests/images/image_seeds.py 127.0.0.1:PORT/meridian-platform [REV]`, set
SEED_REVISION to the commit it names, and commit the version.yaml files it rewrote.

These builds were only ever pushed to loopback registries, so a cluster cannot pull them.
`image_seeds.py archive ENV DIR` builds the ones ENV runs into OCI archives instead, one per app,
each named as version.yaml names it (by tag, and by digest, which is how the kubelet asks for it):
the e2e workflow imports them into its kind nodes (`ctr images import`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from meridian_core.git import Git
from meridian_core.layout import ENVIRONMENTS, Repo
from meridian_core.snapshot import WorkingTree, version_path

from meridian.images import build, registry
from meridian.promote.images_file import read_config
from meridian.promote.versions import Pin, read_pin, write_pin

REPO_ROOT = Path(__file__).resolve().parents[2]

# The commit the seeded releases are built from (it holds the apps' sources, Dockerfiles and
# Debian locks that the recipe reads).
SEED_REVISION = "7c495fd97e1c9053d73424d1acf57fd8d70bd15e"


@dataclass(frozen=True)
class Seed:
    app: str
    version: str


def pins(root: Path = REPO_ROOT) -> dict[tuple[str, str], Pin]:
    """(env, app) → what environments/ENV/apps/APP/version.yaml pins."""
    tree = WorkingTree(root)
    found = {}
    for env in ENVIRONMENTS:
        for app in tree.apps(env):
            text = (root / version_path(env, app)).read_text()
            found[(env, app)] = read_pin(text, app, version_path(env, app))
    return found


def seeds(root: Path = REPO_ROOT) -> list[Seed]:
    return sorted(
        {Seed(app, pin.tag) for (_, app), pin in pins(root).items()}, key=lambda s: (s.app, s.version)
    )


def push_one(repo: Repo, mirror: str, seed: Seed, revision: str = SEED_REVISION) -> registry.Pushed:
    """Build one app version from `revision` and push it (unsigned) to `mirror` (registry/path)."""
    config = read_config(WorkingTree(repo.root))
    assert config is not None, "environments/images.yaml is missing"
    with tempfile.TemporaryDirectory(prefix="meridian-seed-") as tmp:
        source = build.export_source(Git(repo.root), revision, Path(tmp), seed.app)
        request = build.Request(seed.app, seed.version, config.source)
        return build.build_and_push(repo, source, request, f"{mirror}/{seed.app}:{seed.version}")


def push_seeds(repo: Repo, mirror: str, revision: str = SEED_REVISION) -> dict[Seed, registry.Pushed]:
    """Every seed, built from `revision` and pushed: seed → pushed."""
    return {seed: push_one(repo, mirror, seed, revision) for seed in seeds(repo.root)}


def archive_env(repo: Repo, env: str, dest: Path, revision: str = SEED_REVISION) -> dict[str, Path]:
    """Each app of `env`, built from `revision` at the version it pins, into dest/APP.tar (an OCI
    archive named by tag and by digest): app → archive. An app whose build is not the digest the
    environment pins is no seed build (a release, which its registry serves) and is left out."""
    config = read_config(WorkingTree(repo.root))
    assert config is not None, "environments/images.yaml is missing"
    dest.mkdir(parents=True, exist_ok=True)
    archives = {}
    for (where, app), pin in sorted(pins(repo.root).items()):
        if where != env:
            continue
        with tempfile.TemporaryDirectory(prefix="meridian-seed-") as tmp:
            source = build.export_source(Git(repo.root), revision, Path(tmp) / "src", app)
            request = build.Request(app, pin.tag, config.source)
            folder = Path(tmp) / "layout"
            built = build.build_layout(repo, source, request, folder)
            if built != pin.digest:
                print(
                    f"{version_path(env, app)} pins {pin.digest}, but {app} {pin.tag} built at "
                    f"{revision[:10]} is {built}: no seed build, the cluster pulls it from {pin.repository}",
                    file=sys.stderr,
                )
                continue
            _name(folder, pin)
            archives[app] = _tar(folder, dest / f"{app}.tar")
    return archives


def _name(layout: Path, pin: Pin) -> None:
    """Name the layout's one image as containerd imports it: REPOSITORY:TAG and REPOSITORY@DIGEST."""
    index_file = layout / "index.json"
    index = json.loads(index_file.read_text())
    [entry] = index["manifests"]
    assert entry["digest"] == pin.digest, (entry, pin)
    by_tag = {
        "io.containerd.image.name": f"{pin.repository}:{pin.tag}",
        "org.opencontainers.image.ref.name": pin.tag,
    }
    by_digest = {"io.containerd.image.name": f"{pin.repository}@{pin.digest}"}
    index["manifests"] = [{**entry, "annotations": names} for names in (by_tag, by_digest)]
    index_file.write_text(json.dumps(index, indent=2, sort_keys=True))


def _tar(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return archive


def verify_archive(archive: Path) -> dict[str, str]:
    """An OCI archive's image names → manifest digest, after checking every blob against its digest."""
    with tarfile.open(archive) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    assert json.loads(files["oci-layout"])["imageLayoutVersion"] == "1.0.0"
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1], f"{archive}: {name} is corrupt"
    named = {}
    for entry in json.loads(files["index.json"])["manifests"]:
        manifest = json.loads(files["blobs/sha256/" + entry["digest"].removeprefix("sha256:")])
        for blob in [manifest["config"], *manifest["layers"]]:
            assert "blobs/sha256/" + blob["digest"].removeprefix("sha256:") in files, (
                f"{archive}: {blob} missing"
            )
        named[entry["annotations"]["io.containerd.image.name"]] = entry["digest"]
    return named


def _rewrite(root: Path, digests: dict[Seed, str]) -> None:
    """Write each build's digest into every version.yaml that pins its app and version."""
    for (env, app), pin in pins(root).items():
        path = root / version_path(env, app)
        new = Pin(pin.repository, pin.tag, digests[Seed(app, pin.tag)], pin.tag)
        path.write_text(write_pin(path.read_text(), app, new, str(path)))


if __name__ == "__main__" and sys.argv[1:2] == ["archive"]:
    # archive ENV DIR: the seed builds ENV runs, as OCI archives to import into a cluster's nodes.
    # One line per image name: ARCHIVE NAME (the e2e workflow imports each archive, then checks each name).
    for path in archive_env(Repo(REPO_ROOT), sys.argv[2], Path(sys.argv[3])).values():
        for image in verify_archive(path):
            print(f"{path} {image}")
elif __name__ == "__main__":
    # Build the seeds from the given commit (default: HEAD) into a registry given as argument 1,
    # then rewrite the six version.yaml files; put the commit into SEED_REVISION by hand.
    mirror, rev = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "HEAD")
    revision = Git(REPO_ROOT).require_rev(rev)
    result = push_seeds(Repo(REPO_ROOT), mirror, revision)
    for seed, image in result.items():
        print(f"{seed.app} {seed.version} {image.digest} {image.size / 1e6:.1f} MB")
    _rewrite(REPO_ROOT, {seed: image.digest for seed, image in result.items()})
    print(f"revision {revision}")
