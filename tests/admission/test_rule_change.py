"""One Rego source: a rule changed in policies/rego/ of a checkout changes the verdict of the gate and
of that checkout's local API server, with no other edit (the webhook watches the files it serves)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from admission_harness import (
    changed,
    container_of,
    deployment,
    dry_run,
    gate_verdict,
    refusal,
    use_environment,
    wait_until,
    warnings,
    write,
)
from support.local_cluster import REPO_ROOT, ClusterUnderTest, meridian, new_cluster, output

pytestmark = pytest.mark.slow

RULES = Path("policies/rego/rules/images.rego")
# MER-IMG-001's test for a moving tag; the change makes `edge` one too.
BEFORE = 'tag(c.container.image) == "latest"\n\tmsg := sprintf("%s runs %s, a moving tag'
AFTER = 'tag(c.container.image) in {"latest", "edge"}\n\tmsg := sprintf("%s runs %s, a moving tag'


def _copy_checkout(target: Path) -> Path:
    """The checkout's files (tracked, and new ones not ignored), with the same built tools."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if name == "bin" or (not source.exists() and not source.is_symlink()):
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)
    (target / "bin").symlink_to(REPO_ROOT / "bin")
    return target


@pytest.fixture
def copied_cluster(tmp_path: Path, webhook_built: None) -> Iterator[tuple[Path, ClusterUnderTest]]:
    checkout = _copy_checkout(tmp_path / "checkout")
    cluster = new_cluster(tmp_path / "cluster")
    started = meridian("cluster", "up", "--local", env=cluster.env, cwd=checkout)
    try:
        assert started.returncode == 0, output(started)
        yield checkout, cluster
    finally:
        meridian("cluster", "down", "--local", "--purge", env=cluster.env, cwd=checkout)


def test_a_changed_rule_changes_the_gates_and_the_api_servers_verdict(copied_cluster, tmp_path: Path):
    checkout, cluster = copied_cluster
    use_environment(cluster, "dev", root=checkout)

    def edge(obj):
        container_of(obj)["image"] = "registry.meridian.dev/apps/web:edge"

    manifest = write(tmp_path, "edge", changed(deployment("web"), edge))
    before = gate_verdict(checkout, manifest, "dev")
    assert not before.denied and any(w.startswith("MER-IMG-002 ") for w in before.warned)
    admitted = dry_run(cluster, manifest)
    assert admitted.returncode == 0, output(admitted)
    assert warnings(admitted) == before.warned

    rules = checkout / RULES
    text = rules.read_text()
    assert text.count(BEFORE) == 1
    rules.write_text(text.replace(BEFORE, AFTER))

    after = gate_verdict(checkout, manifest, "dev")
    assert {line.split()[0] for line in after.denied} == {"MER-IMG-001"}
    wait_until(lambda: dry_run(cluster, manifest).returncode != 0, "the API server to refuse edge", 60)
    assert refusal(dry_run(cluster, manifest), "apps.admission.meridian.dev") == after.denied
    # The checkout under test changed, not this one.
    assert not gate_verdict(REPO_ROOT, manifest, "dev").denied
