"""`meridian up|preview|destroy|drift|recover ENV`: the Pulumi engine on an environment's stack."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer
from meridian_core.errors import ConflictError, InputError, RefusedError
from meridian_core.exitcodes import ExitCode
from meridian_core.layout import Repo, find_repo

from meridian.commands.options import Env, GitOps, examples
from meridian.console import err, out, progress
from meridian.engine import Stack, recover, stack_locks
from meridian.environments import load_spec

if TYPE_CHECKING:
    from meridian.cluster import LocalCluster

app = typer.Typer()


def _stack(env: str) -> Stack:
    repo = find_repo()
    load_spec(repo, env)  # a malformed spec stops here, before the engine starts
    stack = Stack(repo, env)
    if stack.state_dir is None:
        # Not a file backend: pulumi refuses a locked stack by itself; meridian cannot tell a
        # live update from a dead one there, so it says it did not look.
        progress(
            f"{env}: state at {stack.backend_url.split('://', 1)[0]}://, whose stack locks "
            "meridian does not read; pulumi refuses a locked stack itself"
        )
    for lock in stack_locks(stack) if stack.state_dir is not None else []:
        if lock.holder.alive():
            raise ConflictError(f"stack {env} is locked by {lock.holder}", hint="wait for it to finish")
        raise ConflictError(
            f"stack {env} is locked by an update that died (pid {lock.holder.pid}, {lock.holder.since})",
            hint=f"`meridian recover {env}` clears the stale lock and the operations it left pending",
        )
    stack.select()
    return stack


def _run(stack: Stack, *args: str) -> None:
    result = stack.pulumi(*args)
    if result.returncode != 0:
        raise RefusedError(
            f"pulumi {args[0]} of {stack.env} failed (exit {result.returncode})",
            hint="read the diagnostics above; after an interrupted run use `meridian recover`",
        )


@app.command(
    "up",
    epilog=examples(
        "meridian up dev  # the local control plane first, then pulumi up",
        "meridian up dev --gitops  # and Argo CD syncing the apps from this checkout",
        "PULUMI_CONFIG_PASSPHRASE=… meridian up staging",
    ),
)
def up(env: Env, gitops: GitOps = False) -> None:
    """Create or update the environment's platform (`pulumi up`); dev's local control plane starts first.

    With --gitops, the program's Argo CD objects point at the GitOps loop, started after `pulumi up`."""
    repo = find_repo()
    cluster = _local_cluster(repo, env)
    if gitops and cluster is None:
        raise InputError(
            f"--gitops runs the GitOps loop beside the local control plane, and {env} does not run on it",
            hint="kind and existing clusters run Argo CD from its chart, installed by `meridian up`",
        )
    stack = _stack(env)
    if cluster is not None:
        # The local control plane is processes, not cloud resources: it is started beside the
        # stack, not declared in it (kind clusters, which are resources, are declared by the program).
        cluster.up(progress)
    with _argocd_source(cluster, gitops=gitops):
        _run(stack, "up", "--yes")
    if gitops and cluster is not None:
        cluster.start_gitops(progress, env)
        served = cluster.gitops.layout.served_repo
        out.print(f"GitOps: Argo CD reads {cluster.gitops.repo_url()}")
        out.print(f"  publish commits with: git push {served} HEAD:main")


def _local_cluster(repo: Repo, env: str) -> LocalCluster | None:
    """The local control plane env runs on, or None where its cluster is kind or an existing one."""
    spec = load_spec(repo, env)
    # Imported here: the kind probe and the cluster manager are only needed for clusters we run.
    from meridian_infra.cluster import decide_type  # noqa: PLC0415
    from meridian_infra.spec.models import ClusterType  # noqa: PLC0415

    from meridian.cluster import LocalCluster  # noqa: PLC0415

    # The same decision the program makes when `pulumi up` runs it (meridian_infra.cluster).
    wanted = decide_type(spec.cluster.type)
    return LocalCluster(repo) if wanted is ClusterType.LOCAL else None


@contextlib.contextmanager
def _argocd_source(cluster: LocalCluster | None, *, gitops: bool) -> Iterator[None]:
    """While the local GitOps loop runs (or is about to, with --gitops), the program points Argo CD
    at the loop's git server: a plain `meridian up dev` must not turn the loop's Argo CD back to
    the spec's remote repository, which nothing on this machine may reach, and preview and drift
    compare with what `up` applied."""
    if cluster is None or not (gitops or cluster.gitops.started()):
        yield
        return
    from meridian.cluster.gitops_environment import repo_url_override  # noqa: PLC0415

    url = cluster.gitops.repo_url()
    progress(f"Argo CD's repository: {url}, the local GitOps loop's git server")
    with repo_url_override(url):
        yield


@app.command("preview", epilog=examples("meridian preview staging"))
def preview(env: Env) -> None:
    """Show what `up` would change (`pulumi preview`)."""
    stack = _stack(env)
    with _argocd_source(_local_cluster(stack.repo, env), gitops=False):
        _run(stack, "preview", "--diff")


@app.command("destroy", epilog=examples("meridian destroy dev"))
def destroy(env: Env) -> None:
    """Delete everything the environment's stack created (`pulumi destroy`)."""
    _run(_stack(env), "destroy", "--yes")


@app.command("drift", epilog=examples("meridian drift prod  # exit 1, with the diff, when it drifted"))
def drift(env: Env) -> None:
    """Compare the live platform with the code; exit 1 with the diff when they differ."""
    stack = _stack(env)
    with _argocd_source(_local_cluster(stack.repo, env), gitops=False):
        result = stack.pulumi("preview", "--refresh", "--diff", "--expect-no-changes")
    if result.returncode != 0:
        err.print(f"[bold red]{env} drifted[/] from the code, or the preview failed: see the diff above")
        raise typer.Exit(int(ExitCode.REFUSED))
    out.print(f"{env}: no drift")


@app.command("recover", epilog=examples("meridian recover dev  # after an interrupted `meridian up dev`"))
def recover_stack(env: Env) -> None:
    """After an interrupted `up`: clear a stale lock and pending operations so the stack is usable again."""
    stack = _stack_without_lock_check(env)
    steps = recover(stack)
    for step in steps:
        out.print(step)
    out.print(f"{env}: nothing to recover" if not steps else f"{env}: recovered")


def _stack_without_lock_check(env: str) -> Stack:
    repo = find_repo()
    load_spec(repo, env)
    stack = Stack(repo, env)
    stack.require_file_backend("meridian recover")  # before any pulumi call reaches the backend
    stack.select()
    return stack
