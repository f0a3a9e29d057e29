"""A bare grpc.aio InventoryService that answers GetItem with a canned item: no database, no
interceptors. bench.py measures it beside the real service, so the difference is what storage and
middleware cost in the same language and runtime."""

from __future__ import annotations

import asyncio
import os
import signal

import grpc
from google.protobuf import timestamp_pb2
from meridian_inventory.gen import inventory_pb2, inventory_pb2_grpc


class CannedInventory(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self) -> None:
        stamp = timestamp_pb2.Timestamp()
        stamp.GetCurrentTime()
        self._reply = inventory_pb2.GetItemResponse(
            item=inventory_pb2.Item(sku="SKU-1", name="Widget", available=100, reserved=0, update_time=stamp)
        )

    async def GetItem(
        self, request: inventory_pb2.GetItemRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.GetItemResponse:
        return self._reply


async def serve() -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(CannedInventory(), server)
    server.add_insecure_port(f"[::]:{os.environ.get('GRPC_PORT', '50051')}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    asyncio.run(serve())
