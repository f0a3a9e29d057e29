"""The builds that environments/*/apps/*/version.yaml run, and how to make them again.

Every one is `meridian release APP VERSION --revision SEED_REVISION`: the digests in the six
version.yaml files are those builds' digests, so a test registry that holds the rebuilt images
resolves every image the environments name. A change to the image recipe (src/meridian/images,
tools/image) changes the digests. Then start a loopback registry (`bin/meridian-image registry`),
run `.venv/bin/python tests/images/image_seeds.py 127.0.0.1:PORT/meridian-platform [REV]`, set
SEED_REVISION to the commit it names, and commit the version.yaml files it rewrote.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from meridian.images import build, registry
from meridian.images.config import read_config
from meridian.paths import ENVIRONMENTS, Repo
from meridian.promote.git import Git
from meridian.promote.snapshot import WorkingTree, version_path
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


def _rewrite(root: Path, digests: dict[Seed, str]) -> None:
    """Write each build's digest into every version.yaml that pins its app and version."""
    for (env, app), pin in pins(root).items():
        path = root / version_path(env, app)
        new = Pin(pin.repository, pin.tag, digests[Seed(app, pin.tag)], pin.tag)
        path.write_text(write_pin(path.read_text(), app, new, str(path)))


if __name__ == "__main__":
    # Build the seeds from the given commit (default: HEAD) into a registry given as argument 1,
    # then rewrite the six version.yaml files; put the commit into SEED_REVISION by hand.
    mirror, rev = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "HEAD")
    revision = Git(REPO_ROOT).require_rev(rev)
    result = push_seeds(Repo(REPO_ROOT), mirror, revision)
    for seed, image in result.items():
        print(f"{seed.app} {seed.version} {image.digest} {image.size / 1e6:.1f} MB")
    _rewrite(REPO_ROOT, {seed: image.digest for seed, image in result.items()})
    print(f"revision {revision}")
