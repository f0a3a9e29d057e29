"""`meridian up|preview|destroy|drift|recover ENV`: the Pulumi engine on an environment's stack."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer
from meridian_core.errors import ConflictError, InputError, RefusedError
from meridian_core.exitcodes import ExitCode
from meridian_core.layout import Repo, find_repo
from rich.markup import escape

from meridian.console import err, out
from meridian.engine import Stack, recover, stack_locks
from meridian.environments import load_spec

if TYPE_CHECKING:
    from meridian.cluster import LocalCluster

EnvArgument = Annotated[str, typer.Argument(help="Environment: dev, staging or prod.")]
GitOpsOption = Annotated[
    bool,
    typer.Option(
        "--gitops",
        help="On the local control plane: after `pulumi up`, also run the GitOps loop (a git server "
        "serving this checkout and Argo CD's controllers), which the program's Argo CD objects point "
        "at, so Argo CD syncs the apps (docs/local-cluster.md).",
    ),
]


def _stack(env: str) -> Stack:
    repo = find_repo()
    load_spec(repo, env)  # a malformed spec stops here, before the engine starts
    stack = Stack(repo, env)
    if stack.state_dir is None:
        # Not a file backend: pulumi refuses a locked stack by itself; meridian cannot tell a
        # live update from a dead one there, so it says it did not look.
        err.print(
            f"[dim]{env}: state at {escape(stack.backend_url.split('://', 1)[0])}://, whose stack locks "
            "meridian does not read; pulumi refuses a locked stack itself[/]"
        )
    for lock in stack_locks(stack) if stack.state_dir is not None else []:
        if lock.held_by_live_process():
            raise ConflictError(
                f"stack {env} is locked by a running update (pid {lock.pid} on {lock.hostname})",
                hint="wait for it to finish",
            )
        raise ConflictError(
            f"stack {env} is locked by an update that died (pid {lock.pid}, {lock.timestamp})",
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


def up(env: EnvArgument, gitops: GitOpsOption = False) -> None:
    """Create or update the environment's platform (`pulumi up`); dev's local control plane starts first."""
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
        cluster.up(_say)
    with _argocd_source(cluster, gitops=gitops):
        _run(stack, "up", "--yes")
    if gitops and cluster is not None:
        cluster.start_gitops(_say, env)
        served = cluster.gitops.layout.served_repo
        out.print(f"GitOps: Argo CD reads {cluster.gitops.repo_url()}")
        out.print(f"  publish commits with: git push {served} HEAD:main")


def _say(line: str) -> None:
    err.print(f"[dim]{escape(line)}[/]")


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
    _say(f"Argo CD's repository: {url}, the local GitOps loop's git server")
    with repo_url_override(url):
        yield


def preview(env: EnvArgument) -> None:
    """Show what `up` would change (`pulumi preview`)."""
    stack = _stack(env)
    with _argocd_source(_local_cluster(stack.repo, env), gitops=False):
        _run(stack, "preview", "--diff")


def destroy(env: EnvArgument) -> None:
    """Delete everything the environment's stack created (`pulumi destroy`)."""
    _run(_stack(env), "destroy", "--yes")


def drift(env: EnvArgument) -> None:
    """Compare the live platform with the code; exit 1 with the diff when they differ."""
    stack = _stack(env)
    with _argocd_source(_local_cluster(stack.repo, env), gitops=False):
        result = stack.pulumi("preview", "--refresh", "--diff", "--expect-no-changes")
    if result.returncode != 0:
        err.print(f"[bold red]{env} drifted[/] from the code, or the preview failed: see the diff above")
        raise typer.Exit(int(ExitCode.REFUSED))
    out.print(f"{env}: no drift")


def recover_stack(env: EnvArgument) -> None:
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
