"""`meridian release APP VERSION`: build the app's image from a commit, push it, sign it, and
open the change that makes the first environment (dev) run that tag and digest.

The change is a promotion into dev, planned and landed like any other: the same rules,
render, policy gate and branch `promote/APP/dev/VERSION`, and with --push its pull request.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from meridian_core.errors import InputError
from meridian_core.git import Git
from meridian_core.layout import Repo
from meridian_core.snapshot import Revision, version_path

from meridian.images import build, registry, signing
from meridian.promote import land
from meridian.promote.config import load_config
from meridian.promote.context import Options
from meridian.promote.images_file import IMAGES_FILE, read_config
from meridian.promote.plan import Request
from meridian.promote.units import Outcome
from meridian.promote.versions import read_pin, valid_tag


@dataclass(frozen=True)
class Released:
    pushed: registry.Pushed
    revision: str
    signed: bool
    seconds: float  # build and push
    outcomes: list[Outcome]


@dataclass(frozen=True)
class ReleaseRequest:
    app: str
    version: str
    revision: str = "HEAD"
    registry: str | None = None  # --registry; default $MERIDIAN_REGISTRY, then environments/images.yaml
    key: Path | None = None  # cosign private key; None: the image is pushed unsigned


def release(repo: Repo, request: ReleaseRequest, options: Options) -> Released:
    if not valid_tag(request.version):
        raise InputError(f"version {request.version!r} is not a valid tag", hint="a tag like 1.2.3")
    git = Git(repo.root)
    git.require_repository()
    head = Revision(git, "HEAD")
    config = read_config(head)
    if config is None:
        raise InputError(f"{IMAGES_FILE} is missing at HEAD", hint="it names the registry images go to")
    first = load_config(head).order[0]
    where = version_path(first, request.app)
    text = head.read(where)
    if text is None:
        raise InputError(f"{request.app} has no {where}", hint=f"apps with images: {', '.join(build.APPS)}")
    repository = read_pin(text.decode(), request.app, head.describe(where)).repository
    target = config.located(repository, request.registry)
    options.say(f"building {request.app} {request.version} from {request.revision}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="meridian-release-") as tmp:
        source = build.export_source(git, request.revision, Path(tmp), request.app)
        wanted = build.Request(request.app, request.version, config.source)
        pushed = build.build_and_push(repo, source, wanted, f"{target}:{request.version}")
    seconds = time.monotonic() - started
    options.say(f"pushed {pushed.ref} as {pushed.digest} ({pushed.size / 1e6:.1f} MB) in {seconds:.0f} s")
    if request.key is not None:
        signing.sign(repo, f"{target}@{pushed.digest}", request.key)
        options.say(f"signed {target}@{pushed.digest}")
    outcomes = land.promote(
        repo,
        Request(to=first, targets=(request.app,), version=request.version, digest=pushed.digest),
        options,
    )
    return Released(pushed, source.revision, request.key is not None, seconds, outcomes)
