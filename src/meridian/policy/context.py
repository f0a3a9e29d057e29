"""What the gate shows the Rego rules of an environment beyond the files under test.

A workload checked on its own (`policy check deployment.yaml --env prod`) is judged with the
namespaces and NetworkPolicies its environment's platform will surround it with, rendered by the
same Pulumi program (through its mocks) that `meridian render` and `pulumi up` run. So the gate
neither denies a Deployment for a default-deny that lives in a file it was not given, nor passes
one bound for a namespace the platform never declares.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from meridian_core.layout import Repo
from meridian_infra.spec import environment_files

# The kinds rules look at across the environment: namespaces (which exist, which tier, which
# environment) and the network policies in them.
CONTEXT_KINDS = frozenset({"Namespace", "NetworkPolicy"})


def environment_context(repo: Repo, env: str) -> list[dict[str, Any]] | None:
    """The environment's platform namespaces and NetworkPolicies; None for an environment the
    repository does not declare (the rules then judge only what they are shown)."""
    if not repo.spec_file(env).is_file():
        return None
    stamps = tuple(
        (str(f), f.stat().st_mtime_ns if f.is_file() else 0)
        for f in environment_files(repo.environments_dir, env)
    )
    return list(_rendered(repo.root, env, stamps))


@lru_cache(maxsize=8)
def _rendered(root: Path, env: str, _files: tuple[tuple[str, int], ...]) -> tuple[dict[str, Any], ...]:
    """Rendered once per process and version of the environment's files (its spec, its apps'
    contracts and settings): the fixtures of a test run share it."""
    # Imported here: the Pulumi program is only loaded when an environment's context is needed.
    from meridian_infra.offline import record_platform  # noqa: PLC0415

    from meridian.environments import load_spec  # noqa: PLC0415

    _, recording = record_platform(load_spec(Repo(root), env))
    return tuple(d.inputs for d in recording.kubernetes_objects() if d.inputs.get("kind") in CONTEXT_KINDS)
