"""`meridian cluster up|down|status --local`: the local control plane (etcd, kube-apiserver,
controller-manager, scheduler, kwok) as processes on this machine. See docs/local-cluster.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from meridian_core.errors import InputError, MeridianError
from meridian_core.exitcodes import ExitCode
from meridian_core.layout import Repo, find_repo
from rich.markup import escape
from rich.table import Table

from meridian.cluster import LocalCluster
from meridian.cluster.egress import EgressFiles, read_forwards
from meridian.cluster.manager import ComponentStatus
from meridian.cluster.policy_webhook import WebhookFiles
from meridian.commands.options import GitOps, Local, command_group, examples
from meridian.console import err, out, progress

_UP = "meridian cluster up --local"
app = command_group(
    "cluster",
    "Run a local Kubernetes control plane (etcd + API server + kwok).",
    _UP,
    "meridian cluster status --local",
    "meridian cluster down --local --purge",
)


def _cluster(local: bool) -> tuple[Repo, LocalCluster]:
    if not local:
        raise InputError(
            "only the local control plane is managed here: pass --local",
            hint="kind clusters are created by the Pulumi program itself (`meridian up ENV`, `make up`)",
        )
    repo = find_repo()
    return repo, LocalCluster(repo)


@app.command(
    "up",
    epilog=examples(
        f"{_UP}  # prints the KUBECONFIG to export",
        f"{_UP} --gitops  # with Argo CD syncing the apps from this checkout",
        f"{_UP} --admission prod  # the policy webhook judges with prod's policies",
        f"MERIDIAN_CLUSTER_PORT_BASE=31000 {_UP}  # its ports from 31000 (docs/local-cluster.md)",
    ),
)
def up(
    local: Local = False,
    gitops: GitOps = False,
    admission: Annotated[
        str | None,
        typer.Option(
            "--admission",
            metavar="ENV",
            help="The policy webhook serves ENV's policies, and is registered as the platform program "
            "declares it for ENV (without it: the last environment chosen, dev at first, unregistered).",
        ),
    ] = None,
) -> None:
    """Start the local control plane with fake nodes; if it is already running and healthy, say so."""
    repo, cluster = _cluster(local)
    already = cluster.up(progress, gitops=gitops, admission=admission)
    statuses = cluster.status()
    _print_table(repo, statuses)
    where = _shown(repo, cluster.dirs.kubeconfig)
    out.print(f"{'already running' if already else 'started'}: kubeconfig {where}")
    out.print(f"  export KUBECONFIG={cluster.dirs.kubeconfig}")
    if gitops:
        served = cluster.gitops.layout.served_repo
        out.print(f"GitOps: Argo CD reads {cluster.gitops.settings().ports.repo_url}")
        out.print(f"  publish commits with: git push {_shown(repo, served)} HEAD:main")


@app.command(
    "down", epilog=examples("meridian cluster down --local", "meridian cluster down --local --purge")
)
def down(
    local: Local = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete the etcd data, certificates and kubeconfigs.")
    ] = False,
) -> None:
    """Stop every component (controllers and kwok, then the API server, then etcd)."""
    _, cluster = _cluster(local)
    result = cluster.down(purge=purge)
    if result.stopped:
        out.print(f"stopped: {', '.join(result.stopped)}")
    else:
        out.print("not running: nothing to stop")
    if result.killed:
        err.print(f"[yellow]killed (did not stop on SIGTERM in time):[/] {', '.join(result.killed)}")
    if result.purged:
        out.print(f"purged etcd data, certificates and kubeconfigs under {cluster.dirs.root}")


@app.command("status", epilog=examples("meridian cluster status --local"))
def status(local: Local = False) -> None:
    """Each component's pid, health, port and log; exit 0 when all are healthy, 1 otherwise."""
    repo, cluster = _cluster(local)
    statuses = cluster.status()
    _print_table(repo, statuses)
    kubeconfig = cluster.dirs.kubeconfig
    out.print(f"kubeconfig: {_shown(repo, kubeconfig)}{'' if kubeconfig.is_file() else ' (not written yet)'}")
    _print_egress(repo, EgressFiles(cluster.dirs))
    _print_admission(WebhookFiles(cluster.dirs))
    if not all(s.healthy for s in statuses):
        down_ones = [s.name for s in statuses if not s.healthy]
        err.print(f"not healthy: {', '.join(down_ones)} (start or repair: `meridian cluster up --local`)")
        raise typer.Exit(int(ExitCode.REFUSED))


def _print_egress(repo: Repo, files: EgressFiles) -> None:
    try:
        forwards = ", ".join(f"{f.key} -> {f.target}" for f in read_forwards(files.forwards)) or "none"
    except MeridianError as exc:
        forwards = f"[red]unreadable, so none apply ({escape(exc.message)})[/]"
    out.print(
        f"egress: the API server's own connections go to the egress proxy "
        f"({_shown(repo, files.socket('cluster').parent)}/egress-*.sock) and stay on loopback; "
        f"forwards: {forwards}"
    )


def _print_admission(files: WebhookFiles) -> None:
    try:
        environment = files.environment()
    except MeridianError as exc:
        environment = f"[red]unknown ({escape(exc.message)})[/]"
    out.print(
        f"admission: opa judges what the API server admits with {environment}'s policies "
        "(policies/rego, policies/admission); the webhook configuration is registered by the "
        "platform program, or by `up --local --admission ENV`"
    )


def _print_table(repo: Repo, statuses: list[ComponentStatus]) -> None:
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("component", no_wrap=True)
    for column in ("pid", "running", "health", "port"):
        table.add_column(column)
    # A narrow terminal folds the path instead of cutting it: it is there to be copied.
    table.add_column("log", overflow="fold")
    for s in statuses:
        table.add_row(
            s.name,
            str(s.pid) if s.pid is not None and s.running else "-",
            "yes" if s.running else "no",
            f"[green]{escape(s.health)}[/]" if s.healthy else f"[red]{escape(s.health)}[/]",
            str(s.port) if s.port else "-",
            _shown(repo, s.log),
        )
    out.print(table)


def _shown(repo: Repo, path: Path) -> str:
    text = str(path)
    root = str(repo.root) + "/"
    return text.removeprefix(root) if text.startswith(root) else text
