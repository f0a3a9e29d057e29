"""No process of the loop listens or connects anywhere but loopback: every socket of Redis, the git
server and Argo CD's three components, sampled twice a second since the loop started."""

from __future__ import annotations

import pytest
from gitops_loop import Loop

pytestmark = pytest.mark.slow


def test_every_socket_of_the_loop_is_on_loopback(loop: Loop) -> None:
    loop.watch.sample()
    listeners = sorted(s for s in loop.watch.seen if "0.0.0.0:0" in s or ":::0" in s)
    assert loop.watch.samples > 10
    # Each component was seen listening, so the watch saw the processes themselves.
    for name in ("redis-server", "git-daemon", "argocd-repo-server", "argocd-application-controller"):
        assert any(s.startswith(name) for s in listeners), f"{name} never seen listening"
    assert loop.watch.foreign == set(), "\n".join(sorted(loop.watch.foreign))
    print(f"\n{loop.watch.samples} samples, {len(loop.watch.seen)} distinct sockets, all on loopback")
