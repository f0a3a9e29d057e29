"""The rules and dashboards read only what the apps really export: both services run (inventory in
Python, orders in Go, each with its own PostgreSQL), serve a few calls, and their /metrics are the
reference for metric names, label names and histogram buckets."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from dataclasses import dataclass
from decimal import Decimal

import grpc
import pytest
from meridian_core import durations
from meridian_infra.observability import dashboards, slo
from meridian_inventory.gen import inventory_pb2 as inv
from prometheus_client.parser import text_string_to_metric_families
from promql_names import dashboard_queries, metric_names, rule_exprs, selector_labels
from support.gen import orders_pb2 as pb
from support.stack import StartStack

pytestmark = pytest.mark.slow

# Prometheus attaches this from the scrape target; the apps do not export it.
TARGET_LABELS = {"namespace"}
# The series of an app's outgoing calls (grpc_client_handled_total, …).
CLIENT_SERIES = "grpc_client_"


@dataclass
class Exported:
    """One app's /metrics: label names per sample name, and the `le` values of the handling histogram."""

    labels: dict[str, set[str]]
    handling_buckets: set[str]


def _scrape(port: int) -> Exported:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    labels: dict[str, set[str]] = {}
    buckets: set[str] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
            if sample.name == "grpc_server_handling_seconds_bucket":
                buckets.add(sample.labels["le"])
    return Exported(labels, buckets)


@pytest.fixture
def exported(start_stack: StartStack) -> dict[str, Exported]:
    """Both apps' /metrics after successful calls, client errors and a call across the two."""
    stack = start_stack()
    stack.seed("SKU-1", 5)
    orders, inventory = stack.orders_stub(), stack.inventory_stub()
    request = pb.CreateOrderRequest(request_id=str(uuid.uuid4()), customer_id="c-1", sku="SKU-1", quantity=1)
    order = orders.CreateOrder(request, timeout=30).order  # orders -> inventory.Reserve
    orders.GetOrder(pb.GetOrderRequest(id=order.id), timeout=30)
    inventory.GetItem(inv.GetItemRequest(sku="SKU-1"), timeout=30)
    with pytest.raises(grpc.RpcError) as unknown:
        inventory.GetItem(inv.GetItemRequest(sku="NO-SUCH-SKU"), timeout=30)
    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as invalid:
        orders.CreateOrder(pb.CreateOrderRequest(request_id="", sku="SKU-1", quantity=0), timeout=30)
    assert invalid.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    return {
        "orders": _scrape(stack.orders_metrics_port),
        "inventory": _scrape(stack.inventory_metrics_ports[0]),
    }


def _queries(specs, app: str) -> list[str]:
    """Every PromQL expression of the app's rules (all environments) and dashboard."""
    exprs = [e for spec in specs.values() for e in rule_exprs(slo.rule_groups(spec, app))]
    dashboard = json.loads(dashboards.render(app))
    return exprs + list(dashboard_queries(dashboard))


def test_rules_and_dashboards_read_only_metrics_and_labels_the_services_export(specs, exported):
    # Every app's dashboard has the outbound panels (it follows no edit of the contract's calls), so
    # the client-side series need only come from an app that calls another (orders here); each app's
    # own series must come from the app itself.
    anywhere: dict[str, set[str]] = {}
    for scraped in exported.values():
        for name, labels in scraped.labels.items():
            anywhere.setdefault(name, set()).update(labels)
    for app, scraped in exported.items():
        queries = _queries(specs, app)
        used = set().union(*(metric_names(q) for q in queries))
        raw = {name for name in used if ":" not in name}  # recording-rule names carry colons
        assert {
            "grpc_server_handled_total",
            "grpc_server_handling_seconds_bucket",
            "meridian_build_info",
        } <= raw
        outbound = {name for name in raw if name.startswith(CLIENT_SERIES)}
        missing = (raw - outbound - set(scraped.labels)) | (outbound - set(anywhere))
        assert not missing, f"{app} does not export {sorted(missing)}"
        assert used - raw <= slo.recorded_names()
        for query in queries:
            for name, labels in selector_labels(query).items():
                if name in raw:
                    known = scraped.labels[name] if name in scraped.labels else anywhere[name]
                    unknown = labels - TARGET_LABELS - known
                    assert not unknown, f"{app}'s {name} has no label {sorted(unknown)} (in {query})"


def _matches(matcher: str, value: str) -> bool:
    """Whether one `le` matcher as the rules write it (le="…" or le=~"…") selects `value`."""
    op, quoted = re.fullmatch(r'le(=~|=)"(.*)"', matcher).groups()
    body = quoted.replace("\\\\", "\\")  # PromQL string escapes to the regex they spell
    return re.fullmatch(body, value) is not None if op == "=~" else body == value


def test_handling_buckets_are_the_bounds_latency_thresholds_may_use(exported):
    for app, scraped in exported.items():
        bounds = scraped.handling_buckets - {"+Inf"}
        assert {Decimal(b) for b in bounds} == set(durations.HISTOGRAM_BOUNDS), app
        for spelled in bounds:
            # The rules find each bucket however this exporter spells the number (1 or 1.0).
            assert _matches(slo.le_matcher(Decimal(spelled)), spelled), (app, spelled)
