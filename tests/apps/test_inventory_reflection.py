"""Server reflection of inventory as clients nobody here wrote use it: buf curl, once with each
reflection protocol (grpc.reflection.v1, then the older v1alpha), finds the InventoryService's
schema and calls GetItem with JSON it encodes from that schema alone."""

from __future__ import annotations

import json
import subprocess

import pytest
from support import postgres, processes
from support.inventory_harness import RunningInventory, seed

pytestmark = pytest.mark.slow

BUF = processes.REPO / "bin" / "buf"


def buf_curl(*args: str) -> str:
    """buf curl over plain-text HTTP/2 gRPC; its output, once it exited 0."""
    if not BUF.exists():
        pytest.fail(f"{BUF} is missing: `make tools` builds buf (tools/tools.toml)")
    argv = [str(BUF), "curl", "--protocol=grpc", "--http2-prior-knowledge", *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("protocol", ["grpc-v1", "grpc-v1alpha"])
def test_buf_curl_calls_get_item_through_reflection(
    inventory: RunningInventory, database: postgres.Database, protocol: str
) -> None:
    seed(database, ("SKU-1", "Widget", 5))
    out = buf_curl(
        f"--reflect-protocol={protocol}",
        '--data={"sku": "SKU-1"}',
        f"http://{inventory.address}/meridian.inventory.v1.InventoryService/GetItem",
    )
    item = json.loads(out)["item"]
    # int64 fields are JSON strings
    assert (item["sku"], item["name"], item["available"]) == ("SKU-1", "Widget", "5")


def test_reflection_lists_both_protocols(inventory: RunningInventory) -> None:
    out = buf_curl("--list-services", f"http://{inventory.address}")
    assert set(out.split()) >= {
        "meridian.inventory.v1.InventoryService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
