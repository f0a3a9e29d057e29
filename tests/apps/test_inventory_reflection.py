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


@pytest.mark.parametrize("protocol", ["grpc-v1", "grpc-v1alpha"])
def test_buf_curl_calls_get_item_through_reflection(
    inventory: RunningInventory, database: postgres.Database, protocol: str
) -> None:
    if not BUF.exists():
        pytest.fail(f"{BUF} is missing: `make tools` builds buf (tools/tools.toml)")
    seed(database, ("SKU-1", "Widget", 5))
    result = subprocess.run(
        [
            str(BUF),
            "curl",
            "--protocol=grpc",
            "--http2-prior-knowledge",
            f"--reflect-protocol={protocol}",
            '--data={"sku": "SKU-1"}',
            f"http://{inventory.address}/meridian.inventory.v1.InventoryService/GetItem",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    item = json.loads(result.stdout)["item"]
    assert (item["sku"], item["name"], item["available"]) == (
        "SKU-1",
        "Widget",
        "5",
    )  # int64 is a JSON string


def test_reflection_lists_both_protocols(inventory: RunningInventory) -> None:
    if not BUF.exists():
        pytest.fail(f"{BUF} is missing: `make tools` builds buf (tools/tools.toml)")
    result = subprocess.run(
        [
            str(BUF),
            "curl",
            "--protocol=grpc",
            "--http2-prior-knowledge",
            "--list-services",
            f"http://{inventory.address}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) >= {
        "meridian.inventory.v1.InventoryService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
