"""`meridian release APP VERSION`: build and push the app's image, sign it, open dev's version change."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from meridian_core.layout import find_repo

from meridian.commands.options import App, Skip, examples, grouped
from meridian.commands.promotion_options import Branch
from meridian.console import out
from meridian.promote import report
from meridian.promote.images_file import REGISTRY_VARIABLE
from meridian.promote.release import ReleaseRequest
from meridian.promote.release import release as run_release

KEY_VARIABLE = "MERIDIAN_SIGNING_KEY"

app = typer.Typer()


@app.command(
    "release",
    epilog=examples(
        "meridian release orders 1.2.0 --registry 127.0.0.1:5000/meridian-platform --key cosign.key",
        "meridian release inventory 1.3.0 --push  # registry and key from the environment",
    ),
)
@grouped(branch=Branch)
def release(
    app: App,
    version: Annotated[str, typer.Argument(help="The version to release, e.g. 1.2.0 (the image tag).")],
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            envvar=REGISTRY_VARIABLE,
            help="Push here, e.g. 127.0.0.1:5000/meridian-platform (default: environments/images.yaml).",
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            envvar=KEY_VARIABLE,
            help="cosign private key to sign with (its password in $COSIGN_PASSWORD); "
            "without one the image is pushed unsigned.",
        ),
    ] = None,
    revision: Annotated[str, typer.Option("--revision", help="The commit to build.")] = "HEAD",
    *,
    branch: Branch,
    skip: Skip = None,
) -> None:
    """Build APP from a commit without a container engine, push it as APP:VERSION, sign it, and
    commit dev's new version.yaml (that tag and the digest the registry reports) on
    promote/APP/dev/VERSION; --push opens its pull request.

    Exit 0 done, 1 refused (a build, signing or a promotion rule failed), 2 bad input,
    3 the tag already names another build, or a promotion is pending."""
    request = ReleaseRequest(app, version, revision=revision, registry=registry, key=key)
    released = run_release(find_repo(), request, branch.options(skip))
    pushed = released.pushed
    out.print(f"{pushed.ref}@{pushed.digest}")
    out.print(
        f"  revision {released.revision[:12]}, {pushed.size / 1e6:.1f} MB in {len(pushed.layers)} layers, "
        f"{'signed' if released.signed else 'NOT signed: staging and prod will refuse it'}, "
        f"built and pushed in {released.seconds:.0f} s"
    )
    report.conclude(released.outcomes, out, remote=branch.remote)
