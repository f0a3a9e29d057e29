"""The Dockerfiles and the engine-less build make the same image: what each Dockerfile declares,
parsed here (dockerfile-parse), agrees with the configuration of src/meridian/images/build.py.

No container engine runs on these machines, so this compares declarations, not built images:
the final stage's user, entrypoint and command, ports, labels, environment and working
directory; its layers; what the build stages put into each layer (the same `go build`, the same
`uv export` / `uv pip install`, the same debian.py run on the same lock, the same package
folder); and that every file copied from the build context is one the engine-less build reads.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser
from dockerfile_parse.util import WordSplitter
from image_seeds import REPO_ROOT
from meridian_core.snapshot import WorkingTree

from meridian.images import build, debian
from meridian.promote.images_file import IMAGES_FILE, read_config

VERSION = "1.2.0"
REVISION = "0123456789abcdef0123456789abcdef01234567"
BUILD_ARGS = {"VERSION": VERSION, "REVISION": REVISION}
OUT = "/out/"  # where the build stages put the final stage's layers, one folder each
DEBIAN_SCRIPT = Path(debian.__file__).resolve().relative_to(REPO_ROOT).as_posix()


@dataclass
class Instruction:
    name: str  # RUN, COPY, …
    words: list[str]  # the value split as Docker does, with the stage's ARGs and ENVs expanded
    raw: str


@dataclass
class Stage:
    image: str
    alias: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, name: str) -> list[Instruction]:
        return [i for i in self.instructions if i.name == name]

    def last(self, name: str) -> Instruction | None:
        found = self.all(name)
        return found[-1] if found else None


def _stages(dockerfile: Path) -> list[Stage]:
    """Each stage's instructions; an ARG takes its --build-arg value, as `docker build` would."""
    stages: list[Stage] = []
    args: dict[str, str] = {}
    envs: dict[str, str] = {}
    for item in DockerfileParser(str(dockerfile)).structure:
        name, value = item["instruction"], item["value"]
        if name == "COMMENT":
            continue
        if name == "FROM":
            image, _, alias = value.partition(" AS ")
            stages.append(Stage(image.strip(), alias.strip()))
            args, envs = {}, {}
            continue
        words = list(WordSplitter(value, args=args, envs=envs).split())
        if name == "ARG":
            key, _, default = words[0].partition("=")
            args[key] = BUILD_ARGS.get(key, default)
        elif name == "ENV":
            envs.update(tuple(word.split("=", 1)) for word in words)
        stages[-1].instructions.append(Instruction(name, words, value))
    return stages


def _dockerfile(app: str) -> list[Stage]:
    return _stages(REPO_ROOT / "apps" / app / "Dockerfile")


def _expected_config(app: str) -> dict[str, Any]:
    config = read_config(WorkingTree(REPO_ROOT))
    assert config is not None, f"{IMAGES_FILE} is missing"
    source = build.Source(REPO_ROOT, REVISION, 0)
    return build.image_config(source, build.Request(app, VERSION, config.source))


def _copies(stage: Stage) -> list[tuple[str, list[str], str]]:
    """(--from stage or "", sources, destination) of each COPY."""
    found = []
    for copy in stage.all("COPY"):
        flags = [w for w in copy.words if w.startswith("--")]
        paths = [w for w in copy.words if not w.startswith("--")]
        origin = next((f.removeprefix("--from=") for f in flags if f.startswith("--from=")), "")
        found.append((origin, paths[:-1], paths[-1]))
    return found


def _runs(stage: Stage) -> list[list[str]]:
    """Each command of each RUN (split at `&&`)."""
    commands: list[list[str]] = []
    for run in stage.all("RUN"):
        current: list[str] = []
        for word in run.words:
            if word == "&&":
                commands.append(current)
                current = []
            else:
                current.append(word)
        commands.append(current)
    return commands


def _in_layer(path: str) -> tuple[str, str]:
    """/out/LAYER/rest → (LAYER, rest)."""
    assert path.startswith(OUT), f"{path} is not under {OUT}"
    layer, _, rest = path.removeprefix(OUT).partition("/")
    return layer, rest.rstrip("/")


@pytest.mark.parametrize("app", build.APPS)
def test_the_final_stage_has_the_builds_user_entrypoint_ports_labels_env_and_workdir(app):
    final = _dockerfile(app)[-1]
    expected = _expected_config(app)
    parsed = DockerfileParser(str(REPO_ROOT / "apps" / app / "Dockerfile"), build_args=BUILD_ARGS)

    assert final.image == "scratch", "the final stage starts empty, as the engine-less image does"
    user = final.last("USER")
    assert user is not None and user.words == [expected["user"]]
    entrypoint = final.last("ENTRYPOINT")
    assert entrypoint is not None and json.loads(entrypoint.raw) == expected["entrypoint"]
    assert final.last("CMD") is None and "cmd" not in expected
    ports = [w if "/" in w else f"{w}/tcp" for e in final.all("EXPOSE") for w in e.words]
    assert sorted(ports) == sorted(expected["exposedPorts"])
    assert parsed.labels == expected["labels"]
    assert parsed.envs == dict(e.split("=", 1) for e in expected["env"])
    workdir = final.last("WORKDIR")
    assert (workdir.words[0] if workdir else "/") == expected["workingDir"]


@pytest.mark.parametrize("app", build.APPS)
def test_the_final_stage_copies_the_builds_layers_in_order(app):
    final = _dockerfile(app)[-1]
    copies = _copies(final)

    assert all(origin for origin, _, _ in copies), "the final stage copies only from build stages"
    assert [dest for _, _, dest in copies] == ["/"] * len(copies)
    layers = [_in_layer(sources[0])[0] for _, sources, _ in copies]
    assert layers == [name for name, _ in build.LAYERS[app]]


@pytest.mark.parametrize("app", build.APPS)
def test_the_base_layer_is_debian_py_on_the_apps_lock(app):
    stages = _dockerfile(app)
    script_name = Path(DEBIAN_SCRIPT).name
    runs = [cmd for stage in stages[:-1] for cmd in _runs(stage) if any(w.endswith(script_name) for w in cmd)]
    copied = {
        Path(dest.rstrip("/")) / Path(src).name: src
        for stage in stages[:-1]
        for origin, sources, dest in _copies(stage)
        if not origin
        for src in sources
    }

    assert len(runs) == 1, runs
    python, script, command, lock, rootfs, *_ = runs[0]
    assert (python, command) == ("python3", "base")
    assert copied[Path(script)] == DEBIAN_SCRIPT
    assert copied[Path(lock)] == f"apps/{app}/debian-packages.lock"  # what build._base reads
    assert _in_layer(rootfs) == (build.LAYERS[app][0][0], "")


def test_orders_is_compiled_with_the_builds_go_command_and_environment():
    stages = _dockerfile("orders")
    compile_runs = [cmd for stage in stages for cmd in _runs(stage) if cmd[-1] == build.ORDERS_PACKAGE]

    assert len(compile_runs) == 1, compile_runs
    words = compile_runs[0]
    assignments = [w for w in words if re.match(r"^[A-Z][A-Z0-9_]*=", w)]
    command = words[len(assignments) :]
    assert dict(a.split("=", 1) for a in assignments) == build.GO_ENV
    output = command[command.index("-o") + 1]
    layer, path = _in_layer(output)
    assert (layer, path) == (build.LAYERS["orders"][1][0], build.ORDERS_BINARY)
    assert command == build.go_build_command(VERSION, REVISION, output)
    stage = next(s for s in stages if any(cmd[-1] == build.ORDERS_PACKAGE for cmd in _runs(s)))
    workdir = stage.last("WORKDIR")
    assert workdir is not None and workdir.words[0].endswith("/apps/orders"), "built in the app's folder"


def test_inventorys_packages_come_from_the_builds_uv_commands():
    stages = _dockerfile("inventory")
    commands = [cmd for stage in stages[:-1] for cmd in _runs(stage)]
    uv_pin = next(
        t["pin"]
        for t in tomllib.loads((REPO_ROOT / "tools/tools.toml").read_text())["tool"]
        if t["name"] == "uv"
    )

    installs = [c for c in commands if c[:4] == ["python", "-m", "pip", "install"]]
    assert installs == [["python", "-m", "pip", "install", f"uv=={uv_pin}"]], "the uv that tools.toml pins"
    exports = [c for c in commands if c[:2] == ["uv", "export"]]
    assert len(exports) == 1
    requirements = exports[0][-1]
    assert exports[0] == build.uv_export_command("uv", requirements)
    pip = [c for c in commands if c[:3] == ["uv", "pip", "install"]]
    assert len(pip) == 1
    target = pip[0][pip[0].index("--target") + 1]
    assert _in_layer(target) == (build.LAYERS["inventory"][1][0], build.SITE_PACKAGES)
    assert pip[0] == build.uv_install_command("uv", target, requirements)
    removed = [c for c in commands if c[0] == "rm"]
    assert removed == [["rm", "-rf", f"{target}/bin"]], "console scripts are dropped, as build.py drops them"


@pytest.mark.parametrize("app", build.APPS)
def test_the_build_context_files_are_those_the_engineless_build_reads(app):
    stages = _dockerfile(app)
    context = [
        src for stage in stages for origin, sources, _ in _copies(stage) if not origin for src in sources
    ]
    into_layers = {
        _in_layer(dest): sources
        for stage in stages
        for origin, sources, dest in _copies(stage)
        if not origin and dest.startswith(OUT)
    }

    read = [
        src
        for src in context
        if src in build.WORKSPACE_FILES or src.startswith(f"apps/{app}/") or src == DEBIAN_SCRIPT
    ]
    assert read == context, "the Dockerfile copies a file that `meridian release` does not export"
    if app == "inventory":
        assert into_layers == {
            (build.LAYERS["inventory"][2][0], build.INVENTORY_PACKAGE): [build.INVENTORY_SOURCE]
        }
    else:
        assert into_layers == {}  # orders' layers are made by RUN alone
