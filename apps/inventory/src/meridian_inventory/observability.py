"""The server interceptor: request ids, one JSON log line and the metrics for every call.

The request id comes from the caller's x-request-id metadata (orders forwards its own), or is made
here when absent; it is kept in a context variable so log lines written while handling the call
carry it, and echoed: in the trailers of a unary call (rpc_errors adds it to those of a failure),
in the headers of a stream.

A unary call sends no headers of its own on purpose. A gRPC client counts a call whose headers
arrived as committed and never retries it, so headers sent before a failing status would stop
orders from retrying UNAVAILABLE and ABORTED; and sending them apart from the reply costs a write
of its own (5 % of GetItem's time in py-spy).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import trace

from meridian_inventory import logs
from meridian_inventory.metrics import GO_CODE_NAMES, ServerMetrics

REQUEST_ID_HEADER = "x-request-id"
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def _incoming_request_id(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_HEADER and isinstance(value, str) and 0 < len(value) <= 128:
            return value
    return uuid.uuid4().hex


def _split(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


def _final_code(context: grpc.aio.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, grpc.aio.AbortError):
        return grpc.StatusCode.UNKNOWN
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


class _Call:
    """Bookkeeping for one call: start, then finish exactly once."""

    def __init__(self, metrics: ServerMetrics, kind: str, full_method: str) -> None:
        self.service, self.method = _split(full_method)
        self.labels = (kind, self.service, self.method)
        self.metrics = metrics
        self.started = time.perf_counter()
        metrics.started.labels(*self.labels).inc()

    def finish(self, context: grpc.aio.ServicerContext, error: BaseException | None) -> None:
        elapsed = time.perf_counter() - self.started
        code = _final_code(context, error)
        self.metrics.handled.labels(*self.labels, GO_CODE_NAMES.get(code, "Unknown")).inc()
        self.metrics.handling_seconds.labels(*self.labels).observe(elapsed)
        fields = {
            "method": f"/{self.service}/{self.method}",
            "code": code.name,
            "duration_ms": round(elapsed * 1000, 3),
            "request_id": request_id.get(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            fields["trace_id"] = trace.format_trace_id(span.trace_id)
        unexpected = error is not None and not isinstance(error, grpc.aio.AbortError)
        if unexpected and code is grpc.StatusCode.UNKNOWN:
            logs.get().error("rpc failed", extra={"fields": fields}, exc_info=error)
        else:
            logs.get().info("rpc", extra={"fields": fields})


class ObservabilityInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        full_method = handler_call_details.method
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, full_method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._server_stream(handler.unary_stream, full_method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client and bidi streams: only server reflection, left unmeasured

    async def _begin(self, context: grpc.aio.ServicerContext) -> None:
        request_id.set(_incoming_request_id(context))

    async def _send_headers(self, context: grpc.aio.ServicerContext) -> None:
        await context.send_initial_metadata(((REQUEST_ID_HEADER, request_id.get()),))

    def _unary(self, behavior: Callable[..., Any], full_method: str) -> Callable[..., Any]:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            call = _Call(self._metrics, "unary", full_method)
            await self._begin(context)
            try:
                response = await behavior(request, context)
                context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id.get()),))
            except BaseException as error:
                call.finish(context, error)
                raise
            call.finish(context, None)
            return response

        return handle

    def _server_stream(self, behavior: Callable[..., Any], full_method: str) -> Callable[..., Any]:
        if inspect.isasyncgenfunction(behavior):

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                call = _Call(self._metrics, "server_stream", full_method)
                await self._begin(context)
                await self._send_headers(context)
                try:
                    async for response in behavior(request, context):
                        yield response
                except BaseException as error:
                    call.finish(context, error)
                    raise
                call.finish(context, None)

            return stream

        # A handler that writes with context.write() and returns nothing (grpc's health Watch).
        async def write(request: Any, context: grpc.aio.ServicerContext) -> None:
            call = _Call(self._metrics, "server_stream", full_method)
            await self._begin(context)
            await self._send_headers(context)
            try:
                await behavior(request, context)
            except BaseException as error:
                call.finish(context, error)
                raise
            call.finish(context, None)

        return write
