"""`meridian policy check --all` works with only the tool groups tools/tools.toml [needs] lists for
`policy` installed, as in a CI job that installs those alone (`meridian tools install --for policy`).

The gate runs in a scratch checkout whose bin/ and .meridian/ hold only those groups' tools (linked
from this checkout's), with this checkout's bin/ taken off PATH; a tool of any other group is then
not found, and the gate stops naming it. tests/cli/test_tool_needs.py checks the same from the code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from meridian_core.layout import Repo

from meridian import toolchain

pytestmark = pytest.mark.slow

# Where groups install outside bin/: .meridian/<folder> (uv for the workspace, checkov's own venv).
LOCAL_FOLDERS = {"python": ("uv",), "checkov": ("checkov",)}


def _checkout_with_groups(repo_root: Path, root: Path, groups: set[str]) -> Repo:
    manifest = toolchain.load_manifest(Repo(repo_root))
    root.mkdir()
    for entry in repo_root.iterdir():
        # build/ is where the gate renders; it must be the scratch checkout's own.
        if entry.name not in ("bin", ".meridian", "build", ".git"):
            (root / entry.name).symlink_to(entry)
    (root / "bin").mkdir()
    for tool in manifest.tools:
        built = repo_root / "bin" / tool.name
        if tool.group in groups and built.exists():
            (root / "bin" / tool.name).symlink_to(built.resolve())
    (root / ".meridian").mkdir()
    for group in groups:
        for folder in LOCAL_FOLDERS.get(group, ()):
            if (repo_root / ".meridian" / folder).exists():
                (root / ".meridian" / folder).symlink_to((repo_root / ".meridian" / folder).resolve())
    return Repo(root)


def _environment(repo_root: Path, checkout: Repo) -> dict[str, str]:
    own = {(repo_root / "bin").resolve()}
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d).resolve() not in own]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERIDIAN_TOOL_")}
    return {**env, "PATH": os.pathsep.join(path), "MERIDIAN_ROOT": str(checkout.root), "NO_COLOR": "1"}


def test_policy_check_all_runs_with_only_the_policy_groups_installed(repo_root, tmp_path, monkeypatch):
    manifest = toolchain.load_manifest(Repo(repo_root))
    groups = set(manifest.needs["policy"])
    missing = [
        t.name
        for t in manifest.tools
        if t.group in groups and t.group != "python" and not (repo_root / "bin" / t.name).exists()
    ]
    assert not missing, f"bin/ lacks {', '.join(missing)}: run `meridian tools install --for policy`"
    checkout = _checkout_with_groups(repo_root, tmp_path / "checkout", groups)
    env = _environment(repo_root, checkout)

    # The scratch checkout really lacks the other groups' tools (a few groups' worth).
    monkeypatch.setenv("PATH", env["PATH"])
    for name in [k for k in os.environ if k.startswith("MERIDIAN_TOOL_")]:
        monkeypatch.delenv(name)
    for other in ("opa", "vault", "kube-apiserver", "pulumi", "cosign"):
        assert manifest.group_of(other) not in groups
        assert toolchain.which(checkout, other) is None, f"{other} is still found"

    result = subprocess.run(
        [sys.executable, "-m", "meridian.cli", "policy", "check", "--all"],
        cwd=checkout.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "is not installed" not in result.stdout + result.stderr
    for env_name in ("dev", "staging", "prod"):
        assert env_name in result.stdout
