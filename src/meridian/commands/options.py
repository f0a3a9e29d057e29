"""What several commands share, defined once: every option and argument that more than one command
takes, with one meaning and one help text, and the examples that end each --help. The options of
the commands that commit a change on a branch are in `promotion_options`, which this module keeps
apart so that a command's imports bring only the tools it needs (tests/cli/test_tool_needs.py).

Typer has no option groups. `grouped` gives a command the options of a group one by one, so
parsing and --help see each with its own help and default, and hands the command the group built
from them: `def render(environments: Environments, …)` under `@grouped(environments=Environments)`
takes ENV and --all, and gets them as one `Environments`.

Options that share a name but not a meaning stay with their commands: `--to` (promote: an
environment; rollback: a version), `--env`, `--reason` (required by lock, optional for rollback)
and `--format` where the formats differ.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer
from meridian_core.errors import InputError
from meridian_core.layout import Repo
from rich.markup import escape

from meridian.environments import known_environments, require_environment

# --- grouping and examples ----------------------------------------------------------------------------


def grouped(**groups: Callable[..., Any]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Replace each parameter of the command named in `groups` by the parameters of its group
    (a function or dataclass whose parameters are Typer options), and call the command with the
    group built from their values."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        members: dict[str, list[str]] = {}
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            own = [parameter]
            if parameter.name in groups:
                own = list(inspect.signature(groups[parameter.name], eval_str=True).parameters.values())
                members[parameter.name] = [p.name for p in own]
            # Keyword-only: Typer passes every value by name, and a group may bring defaults first.
            parameters += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]

        @functools.wraps(command)
        def run(**values: Any) -> None:
            for name, make in groups.items():
                values[name] = make(**{member: values.pop(member) for member in members[name]})
            command(**values)

        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return decorate


def command_group(name: str, about: str, *example_lines: str, **settings: Any) -> typer.Typer:
    """The Typer app of a group of commands, `meridian NAME …`: without a command, its help."""
    return typer.Typer(
        name=name, help=about, epilog=examples(*example_lines), no_args_is_help=True, **settings
    )


def examples(*lines: str) -> str:
    """A command's epilog: what to type, one command a line (`#` starts what it does)."""
    shown = []
    for line in lines:
        command, _, note = line.partition("  # ")
        shown.append(escape(command) + (f"  [dim]# {escape(note)}[/]" if note else ""))
    return "[bold]Examples[/]\n" + "\n".join(shown)


App = Annotated[str, typer.Argument(help="The app: orders or inventory.")]

# --- environments ---------------------------------------------------------------------------------------

Env = Annotated[str, typer.Argument(help="The environment: dev, staging or prod.")]


@dataclass(frozen=True)
class Environments:
    """ENV, or --all: the environments a command works on."""

    env: Annotated[str | None, typer.Argument(help="The environment: dev, staging or prod.")] = None
    all_envs: Annotated[bool, typer.Option("--all", help="Every environment.")] = False

    def names(self, repo: Repo, command: str) -> list[str]:
        if self.all_envs == (self.env is not None):
            raise InputError("name one environment or pass --all", hint=f"e.g. `meridian {command} dev`")
        return known_environments(repo) if self.all_envs else [require_environment(repo, self.env or "")]


GitOps = Annotated[
    bool,
    typer.Option(
        "--gitops",
        help="Also run the GitOps loop on the local control plane: a git server serving this checkout "
        "and Argo CD's controllers, handed the dev environment, which sync the apps "
        "(docs/local-cluster.md).",
    ),
]
Local = Annotated[
    bool, typer.Option("--local", help="The local control plane (the only cluster meridian runs itself).")
]

# --- tools and output -----------------------------------------------------------------------------------

For = Annotated[
    list[str] | None,
    typer.Option(
        "--for",
        "-f",
        help="Only the tool groups this command or Make target needs (tools/tools.toml [needs]); repeatable.",
    ),
]


class TableOrJson(StrEnum):
    TABLE = "table"
    JSON = "json"


TableOrJsonFormat = Annotated[
    TableOrJson, typer.Option("--format", "-f", help="A table for people, or JSON for machines.")
]

# --- the policy gate ------------------------------------------------------------------------------------


class Checker(StrEnum):
    """The policy gate's checkers, in the gate's order (meridian.policy.gate.CHECKERS)."""

    CONFTEST = "conftest"
    CHECKOV = "checkov"
    SECRETS = "secrets"


Skip = Annotated[
    list[Checker] | None,
    typer.Option(
        "--skip",
        help="Leave a checker out of the policy gate (repeatable); a promotion records it in its commit.",
    ),
]


def checkers(skip: list[Checker] | None) -> tuple[str, ...]:
    left = tuple(c.value for c in Checker if c not in set(skip or ()))
    if not left:
        raise InputError("--skip leaves no checker in the policy gate")
    return left
