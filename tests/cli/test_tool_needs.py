"""Every tool a command looks up must be in a group that command installs (tools/tools.toml [needs]).

A command whose code asks for a tool its groups do not install works on a developer's machine,
where `make tools` built everything, and fails where only the command's own groups were installed
(a CI job, a new user's `make render`). The tools a command asks for are read from its code: every
`require_tool(repo, NAME)` (and `toolchain.which`) in the modules the command's module imports,
directly or not, function-level imports included, so a new lookup anywhere on its path is seen.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from meridian_core.layout import Repo

from meridian import toolchain

PACKAGES = ("meridian", "meridian_infra")
LOOKUPS = ("require_tool", "which")
# command in [needs] -> the module of its CLI command
COMMANDS = {
    "policy": "meridian.commands.policy",
    "render": "meridian.commands.render",
    "promote": "meridian.commands.promote",
    "release": "meridian.commands.release",
    "validate": "meridian.commands.validate",
}
# (command, tool) -> why the command's path imports a lookup it never makes. Each entry must
# still be found (an exemption that no longer applies fails the test).
NOT_CALLED = {
    ("validate", "redis-server"): (
        "meridian.cluster imports the GitOps loop with the control plane; validate only talks to a "
        "running cluster's API (LocalCluster.api) and starts neither"
    ),
    ("validate", "opa"): (
        "meridian.cluster's control plane runs the policy webhook (bin/opa); validate only talks to a "
        "running cluster's API and starts no component"
    ),
}


def _source(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imports(name: str, tree: ast.Module, is_package: bool) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            # `from package import module` imports a module; `from module import name` does not.
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def _closure(start: str) -> dict[str, ast.Module]:
    seen: dict[str, ast.Module] = {}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _source(name)
        if path is None:
            continue
        tree = ast.parse(path.read_text(), str(path))
        seen[name] = tree
        todo.extend(_imports(name, tree, path.name == "__init__.py"))
    return seen


def _lookups(name: str, tree: ast.Module) -> dict[str, list[str]]:
    """tool -> where the module asks for it ("module:line")."""
    module: ModuleType = importlib.import_module(name)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or len(node.args) < 2:
            continue
        func = node.func
        called = getattr(func, "id", None) or getattr(func, "attr", "")
        if called not in LOOKUPS or (called == "which" and not _is_toolchain(func)):
            continue
        where = f"{name}:{node.lineno}"
        for tool in _values(node.args[1], node, parents, module, where):
            found.setdefault(tool, []).append(where)
    return found


def _is_toolchain(func: ast.expr) -> bool:
    # `which` alone is too common a name: only toolchain's (shutil.which takes no repo).
    owner = func.value if isinstance(func, ast.Attribute) else None
    return isinstance(owner, ast.Name) and owner.id == "toolchain"


def _values(
    arg: ast.expr, call: ast.AST, parents: dict[ast.AST, ast.AST], module: ModuleType, where: str
) -> list[str]:
    """The tool names an argument can take: a literal, a module-level constant, or the loop
    variable of an enclosing `for` over a module-level collection."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.Name):
        node: ast.AST | None = call
        while node is not None:
            if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == arg.id:
                return [str(v) for v in _evaluate(node.iter, module, where)]
            node = parents.get(node)
    value = _evaluate(arg, module, where)
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _evaluate(expr: ast.expr, module: ModuleType, where: str) -> object:
    try:
        return eval(compile(ast.Expression(expr), where, "eval"), vars(module))  # noqa: S307 - our own source
    except NameError as exc:
        raise AssertionError(
            f"{where}: cannot tell which tool `{ast.unparse(expr)}` names ({exc}); use a literal or a "
            "module-level constant"
        ) from None


def tools_asked_for(command_module: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, tree in _closure(command_module).items():
        for tool, where in _lookups(name, tree).items():
            found.setdefault(tool, []).extend(where)
    return found


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_tool_a_command_asks_for_is_in_a_group_it_installs(repo_root, command):
    manifest = toolchain.load_manifest(Repo(repo_root))
    groups = set(manifest.needs[command])
    asked = tools_asked_for(COMMANDS[command])
    assert asked, f"found no tool lookup on the path of {COMMANDS[command]}: the scan is broken"
    missing = []
    for tool, where in sorted(asked.items()):
        group = manifest.group_of(tool)
        assert group is not None, f"{', '.join(where)} asks for {tool}, which tools/tools.toml does not list"
        if group not in groups and (command, tool) not in NOT_CALLED:
            missing.append(f"{tool} (group {group}; asked for at {', '.join(where)})")
    assert not missing, (
        f"`{command}` installs {sorted(groups)} (tools/tools.toml [needs]) but its code asks for: "
        + "; ".join(missing)
    )
    for (exempt_command, tool), why in NOT_CALLED.items():
        if exempt_command == command:
            assert tool in asked, f"the exemption of {tool} for {command} no longer applies: {why}"
