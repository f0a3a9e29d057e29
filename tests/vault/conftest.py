"""Fixtures for the Vault suite: one real Vault dev server and one real PostgreSQL for the session.

Tests that only look at what the program declares (under mocks) use neither.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.fixtures import pg_server
from vault_harness import VAULT_BIN, VaultServer
from vault_stack import VaultStack, dev_spec

__all__ = ["pg_server"]  # re-exported: pytest finds fixtures by name in conftest


@pytest.fixture(scope="session")
def vault_server() -> Iterator[VaultServer]:
    if not VAULT_BIN.exists():
        pytest.fail("bin/vault is missing: run `make tools` (tools/build-go-tools.sh tools/vault)")
    server = VaultServer()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def configured(vault_server, pg_server) -> VaultStack:
    """The session's Vault configured for the dev apps, with one static secret per app."""
    stack = VaultStack.create(vault_server, pg_server, ["inventory", "orders"])
    stack.up(dev_spec())
    kv = vault_server.client().secrets.kv.v2
    for app in stack.databases:
        kv.create_or_update_secret(f"apps/{app}/api", secret={"key": f"{app}-key"})
    return stack
