"""`meridian release APP VERSION`: build and push the app's image, sign it, open dev's version change."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from meridian_core.layout import find_repo

from meridian.commands.options import Base, Push, Remote, Skip, Supersede, branch_options
from meridian.console import out
from meridian.promote import report
from meridian.promote.release import ReleaseRequest
from meridian.promote.release import release as run_release

KEY_VARIABLE = "MERIDIAN_SIGNING_KEY"


def release(  # noqa: PLR0917 - Typer passes one argument per option
    app: Annotated[str, typer.Argument(help="The app: orders or inventory.")],
    version: Annotated[str, typer.Argument(help="The version to release, e.g. 1.2.0 (the image tag).")],
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            help="Push here, e.g. 127.0.0.1:5000/meridian-platform "
            "(default: $MERIDIAN_REGISTRY, then environments/images.yaml).",
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help=f"cosign private key to sign with (default: ${KEY_VARIABLE}); password in $COSIGN_PASSWORD.",
        ),
    ] = None,
    revision: Annotated[str, typer.Option("--revision", help="The commit to build.")] = "HEAD",
    push: Push = False,
    supersede: Supersede = False,
    base: Base = None,
    remote: Remote = "origin",
    skip: Skip = None,
) -> None:
    """Build APP from a commit without a container engine, push it as APP:VERSION, sign it, and
    commit dev's new version.yaml (that tag and the digest the registry reports) on
    promote/APP/dev/VERSION; --push opens its pull request.

    Exit 0 done, 1 refused (a build, signing or a promotion rule failed), 2 bad input,
    3 the tag already names another build, or a promotion is pending."""
    named_key = key or (Path(os.environ[KEY_VARIABLE]) if os.environ.get(KEY_VARIABLE) else None)
    options = branch_options(push=push, supersede=supersede, skip=skip, remote=remote, base=base)
    request = ReleaseRequest(app, version, revision=revision, registry=registry, key=named_key)
    released = run_release(find_repo(), request, options)
    pushed = released.pushed
    out.print(f"{pushed.ref}@{pushed.digest}")
    out.print(
        f"  revision {released.revision[:12]}, {pushed.size / 1e6:.1f} MB in {len(pushed.layers)} layers, "
        f"{'signed' if released.signed else 'NOT signed: staging and prod will refuse it'}, "
        f"built and pushed in {released.seconds:.0f} s"
    )
    report.show(released.outcomes, out, remote=remote)
    error = report.error_for(released.outcomes)
    if error is not None:
        raise error
