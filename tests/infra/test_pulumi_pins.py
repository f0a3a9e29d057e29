"""The Pulumi Python SDK the program runs on and the engine built from Go modules are one release."""

from __future__ import annotations

import importlib.metadata

from meridian_core.layout import Repo

from meridian.toolchain import load_manifest, pinned_version

# tools/tools.toml: the CLI (pkg/v3) and our language host (over sdk/v3), both from tools/pulumi/engine.
ENGINE_TOOLS = ("pulumi", "pulumi-language-python")


def test_the_python_sdk_and_the_engine_are_pinned_to_one_release(repo_root):
    sdk = importlib.metadata.version("pulumi")
    repo = Repo(repo_root)
    tools = {tool.name: tool for tool in load_manifest(repo).tools}
    engine = {name: pinned_version(repo, tools[name]) for name in ENGINE_TOOLS}
    assert engine == dict.fromkeys(ENGINE_TOOLS, sdk), (
        f"the Python SDK is pulumi {sdk} (infra/pyproject.toml, uv.lock) but the engine's modules in "
        f"{tools['pulumi'].gomod} are at {engine}: pin both to one release that PyPI and the Go module "
        "proxy both serve"
    )
