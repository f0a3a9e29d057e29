"""Request checks. Each returns every violation found, so a client fixes all of them at once."""

from __future__ import annotations

import re

from meridian_inventory import paging
from meridian_inventory.gen import inventory_pb2
from meridian_inventory.rpc_errors import FieldViolation

_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ID_MAX = 64
MAX_QUANTITY = 1000


def sku(value: str, field: str = "sku") -> list[FieldViolation]:
    if not value:
        return [FieldViolation(field, "is required")]
    if not _SKU.match(value):
        return [FieldViolation(field, "must be 1 to 64 letters, digits, '.', '_' or '-'")]
    return []


def order_id(value: str) -> list[FieldViolation]:
    if not value:
        return [FieldViolation("order_id", "is required")]
    if len(value) > _ID_MAX:
        return [FieldViolation("order_id", f"must be at most {_ID_MAX} characters")]
    return []


def quantity(value: int) -> list[FieldViolation]:
    if not 1 <= value <= MAX_QUANTITY:
        return [FieldViolation("quantity", f"must be from 1 to {MAX_QUANTITY}, got {value}")]
    return []


def list_items(request: inventory_pb2.ListItemsRequest) -> list[FieldViolation]:
    violations = []
    if not 0 <= request.page_size <= paging.MAX_PAGE_SIZE:
        violations.append(
            FieldViolation("page_size", f"must be from 0 to {paging.MAX_PAGE_SIZE}, got {request.page_size}")
        )
    try:
        paging.decode_token(request.page_token)
    except ValueError as error:
        violations.append(FieldViolation("page_token", str(error)))
    return violations


def reserve(request: inventory_pb2.ReserveRequest) -> list[FieldViolation]:
    return order_id(request.order_id) + sku(request.sku) + quantity(request.quantity)
