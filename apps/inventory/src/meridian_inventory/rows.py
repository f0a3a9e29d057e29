"""The rows the service reads: an item's stock, a reservation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ItemRow:
    sku: str
    name: str
    available: int
    reserved: int
    update_time: datetime


@dataclass(frozen=True)
class ReservationRow:
    order_id: str
    sku: str
    quantity: int
    state: str
    create_time: datetime
