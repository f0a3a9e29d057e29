"""Tracing across the two services: one CreateOrder is one trace, holding orders' server span, its
client span for Reserve and inventory's server span for Reserve, each the child of the one before,
exported by both processes over OTLP to a receiver on loopback; the caller's W3C traceparent is
continued, and both services' log lines for the call name the trace."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from opentelemetry.proto.trace.v1 import trace_pb2
from otlp_receiver import OTLPReceiver, ReceivedSpan
from support.gen import orders_pb2 as pb
from support.stack import StartStack

pytestmark = pytest.mark.slow

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    running = OTLPReceiver()
    running.start()
    yield running
    running.stop()


def only(spans: list[ReceivedSpan], service: str, name: str, kind: int) -> ReceivedSpan:
    """The one span of service named for the method name, of kind. Python's instrumentation
    names spans with the path's leading slash, Go's without it."""
    found = [
        s for s in spans if s.service == service and s.span.name.lstrip("/") == name and s.span.kind == kind
    ]
    assert len(found) == 1, f"{service} {name}: {[(s.service, s.span.name, s.span.kind) for s in spans]}"
    return found[0]


def test_one_create_order_is_one_trace_across_both_services(
    start_stack: StartStack, receiver: OTLPReceiver
) -> None:
    tracing = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: send spans promptly instead of every 5s
    }
    stack = start_stack(inventory_env=tracing, **tracing)
    stack.seed("SKU-1", 5)
    stack.orders_stub().CreateOrder(
        pb.CreateOrderRequest(request_id="traced-1", customer_id="c", sku="SKU-1", quantity=1),
        timeout=30,
        metadata=(("traceparent", f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"),),
    )
    spans = receiver.wait_for(3)
    assert stack.orders.terminate() == 0  # flushes whatever is still buffered
    assert stack.inventories[0].terminate() == 0
    spans = receiver.spans()

    assert {s.trace_id for s in spans} == {TRACE_ID}, "every span belongs to the caller's trace"
    create = only(
        spans, "orders", "meridian.orders.v1.OrdersService/CreateOrder", trace_pb2.Span.SPAN_KIND_SERVER
    )
    reserve_out = only(
        spans, "orders", "meridian.inventory.v1.InventoryService/Reserve", trace_pb2.Span.SPAN_KIND_CLIENT
    )
    reserve_in = only(
        spans, "inventory", "meridian.inventory.v1.InventoryService/Reserve", trace_pb2.Span.SPAN_KIND_SERVER
    )
    assert create.parent_span_id == CALLER_SPAN_ID
    assert reserve_out.parent_span_id == create.span_id
    assert reserve_in.parent_span_id == reserve_out.span_id
    assert len(spans) == 3, [(s.service, s.span.name) for s in spans]  # no health checks, nothing else

    for process, method in (
        (stack.orders, "/meridian.orders.v1.OrdersService/CreateOrder"),
        (stack.inventories[0], "/meridian.inventory.v1.InventoryService/Reserve"),
    ):
        calls = [
            json.loads(line)
            for line in process.logs().splitlines()
            if line.startswith("{") and json.loads(line).get("method") == method
        ]
        assert [call.get("trace_id") for call in calls] == [TRACE_ID], process.name


def test_without_an_endpoint_the_services_export_nothing_and_say_so(start_stack: StartStack) -> None:
    stack = start_stack()
    stack.seed("SKU-1", 5)
    stack.orders_stub().CreateOrder(
        pb.CreateOrderRequest(request_id="untraced-1", customer_id="c", sku="SKU-1", quantity=1), timeout=30
    )
    assert stack.orders.terminate() == 0
    assert stack.inventories[0].terminate() == 0
    for process in (stack.orders, stack.inventories[0]):
        lines = [json.loads(line) for line in process.logs().splitlines() if line.startswith("{")]
        setup = [line for line in lines if line.get("msg", line.get("message")) == "tracing"]
        assert len(setup) == 1 and setup[0]["exporting"] is False, (process.name, setup)
