"""Database rows to protobuf messages."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from meridian_inventory.gen import inventory_pb2
from meridian_inventory.rows import ItemRow, ReservationRow

_STATES = {
    "active": inventory_pb2.RESERVATION_STATE_ACTIVE,
    "released": inventory_pb2.RESERVATION_STATE_RELEASED,
}


def item(row: ItemRow) -> inventory_pb2.Item:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(row.update_time)
    return inventory_pb2.Item(
        sku=row.sku, name=row.name, available=row.available, reserved=row.reserved, update_time=stamp
    )


def reservation(row: ReservationRow) -> inventory_pb2.Reservation:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(row.create_time)
    return inventory_pb2.Reservation(
        order_id=row.order_id,
        sku=row.sku,
        quantity=row.quantity,
        state=_STATES.get(row.state, inventory_pb2.RESERVATION_STATE_UNSPECIFIED),
        create_time=stamp,
    )
