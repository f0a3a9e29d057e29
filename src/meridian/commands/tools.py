"""`meridian tools install`: install the pinned tools a command needs, or every one."""

from __future__ import annotations

from typing import Annotated

import typer
from meridian_core.layout import find_repo

from meridian import console, tool_install, toolchain
from meridian.commands.options import For, command_group, examples
from meridian.console import out

_INSTALL = (
    "meridian tools install  # every group",
    "meridian tools install --for render  # the groups `meridian render` needs",
    "meridian tools install --group kube",
)
app = command_group("tools", "Install the repository's pinned tools.", *_INSTALL, "meridian tools needs")

Groups = Annotated[
    list[str] | None,
    typer.Option("--group", "-g", help="Install these groups (tools/tools.toml [group.*]); repeatable."),
]


@app.command("install", epilog=examples(*_INSTALL))
def install(group: Groups = None, for_: For = None) -> None:
    """Install what is missing or whose pins changed, reusing tools already at their pinned version.

    With neither --group nor --for: every group. A second run does nothing.
    """
    repo = find_repo()
    manifest = toolchain.load_manifest(repo)
    names = manifest.select(group, for_)
    purpose = f" for {', '.join(for_)}" if for_ else ""
    _say(f"tool groups{purpose}: {', '.join(names)}")
    report = tool_install.install(repo, manifest, names, say=_say)
    if report.ran:
        _say(f"installed {', '.join(report.ran)}")
    else:
        _say(f"nothing to do ({len(report.skipped)} groups up to date)")


@app.command("needs", epilog=examples("meridian tools needs"))
def needs() -> None:
    """Which tool groups each command and Make target needs (tools/tools.toml [needs])."""
    manifest = toolchain.load_manifest(find_repo())
    for command, names in manifest.needs.items():
        out.print(f"{command:<14} {' '.join(names)}", soft_wrap=True)


def _say(line: str) -> None:
    # One line per event, never wrapped: CI logs and narrow terminals read the same.
    if not console.quiet():
        out.print(line, soft_wrap=True, markup=False)
