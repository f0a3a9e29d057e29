"""OpenTelemetry for the service: a span for every call it serves (health checks aside), continuing
the caller's W3C trace context (orders sends traceparent), exported over OTLP/gRPC.

Only when an endpoint is configured: without one there is no tracer and no interceptor at all.
Inventory calls no other service, so it has no trace context to pass on, and the calls it serves
cost nothing extra.
"""

from __future__ import annotations

import asyncio

import grpc
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from meridian_inventory import APP_NAME
from meridian_inventory.config import Config


class Tracing:
    """The tracer provider exporting to config.otlp_endpoint; the exporter connects lazily, so an
    unreachable collector costs dropped spans, never a failed start or a failed call."""

    def __init__(self, config: Config) -> None:
        attributes = {
            "service.name": APP_NAME,
            "service.namespace": "meridian",
            "service.version": config.app_version,
        }
        if config.pod_name:
            attributes["k8s.pod.name"] = attributes["service.instance.id"] = config.pod_name
        if config.pod_namespace:
            attributes["k8s.namespace.name"] = config.pod_namespace
        # Resource.create merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME over these; the
        # sampler follows OTEL_TRACES_SAMPLER (by default, sampled when the caller's span is).
        self.provider = TracerProvider(resource=Resource.create(attributes))
        exporter = OTLPSpanExporter(
            endpoint=config.otlp_endpoint, insecure=config.otlp_endpoint.startswith("http://")
        )
        self.provider.add_span_processor(BatchSpanProcessor(exporter))

    def interceptor(self) -> grpc.aio.ServerInterceptor:
        # Health checks are left out: the probes would drown the traces worth reading.
        return aio_server_interceptor(
            tracer_provider=self.provider, filter_=filters.negate(filters.health_check())
        )

    async def shutdown(self) -> None:
        """Send the spans still buffered, then stop the exporter (it blocks: off the loop)."""
        await asyncio.to_thread(self.provider.shutdown)


def start(config: Config) -> Tracing | None:
    return Tracing(config) if config.otlp_endpoint else None
