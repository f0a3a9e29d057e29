"""An OTLP/gRPC trace receiver on loopback, built on opentelemetry-proto's generated service: what
a collector (the platform's Alloy) is to the services, minus the forwarding. It keeps every span
it is sent, with the service.name of the process that sent it."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    span: trace_pb2.Span

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()

    @property
    def span_id(self) -> str:
        return self.span.span_id.hex()

    @property
    def parent_span_id(self) -> str:
        return self.span.parent_span_id.hex()


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OTLPReceiver) -> None:
        self._receiver = receiver

    def Export(self, request, context):
        spans = []
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                spans += [ReceivedSpan(service, span) for span in scope_spans.spans]
        self._receiver.add(spans)
        return trace_service_pb2.ExportTraceServiceResponse()


class OTLPReceiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=None)

    def add(self, spans: list[ReceivedSpan]) -> None:
        with self._lock:
            self._spans += spans

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def wait_for(self, count: int, timeout: float = 30) -> list[ReceivedSpan]:
        """The spans received, once there are at least count of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(spans := self.spans()) >= count:
                return spans
            time.sleep(0.05)
        raise AssertionError(f"{len(self.spans())} spans arrived within {timeout}s, {count} were expected")
