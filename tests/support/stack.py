"""A running system for end-to-end tests: inventory replicas and orders, with their databases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
import psycopg
from meridian_inventory.gen import inventory_pb2_grpc

from support import postgres, processes
from support.gen import orders_pb2_grpc


@dataclass
class Stack:
    inventory_db: postgres.Database
    orders_db: postgres.Database
    inventories: list[processes.ServiceProcess]
    orders: processes.ServiceProcess
    orders_metrics_port: int
    inventory_metrics_ports: list[int]
    channels: list[grpc.Channel] = field(default_factory=list)
    # Orders replicas after the first (the first is `orders`), sharing its database.
    more_orders: list[processes.ServiceProcess] = field(default_factory=list)

    def orders_stub(self) -> orders_pb2_grpc.OrdersServiceStub:
        channel = grpc.insecure_channel(self.orders.address)
        self.channels.append(channel)
        return orders_pb2_grpc.OrdersServiceStub(channel)

    def inventory_stub(self, replica: int = 0) -> inventory_pb2_grpc.InventoryServiceStub:
        channel = grpc.insecure_channel(self.inventories[replica].address)
        self.channels.append(channel)
        return inventory_pb2_grpc.InventoryServiceStub(channel)

    def seed(self, sku: str, available: int) -> None:
        with psycopg.connect(self.inventory_db.conninfo(), autocommit=True) as conn:
            conn.execute(
                "INSERT INTO items (sku, name, available) VALUES (%s, %s, %s)", (sku, sku, available)
            )


StartStack = Callable[..., Stack]
