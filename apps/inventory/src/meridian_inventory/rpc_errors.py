"""gRPC errors with google.rpc details, so clients in any language can read which field was wrong
(BadRequest) or which condition failed (PreconditionFailure) without parsing messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.protobuf import message as message_pb
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from meridian_inventory.observability import REQUEST_ID_HEADER, request_id


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


async def abort_bad_request(context: grpc.aio.ServicerContext, violations: list[FieldViolation]) -> NoReturn:
    """INVALID_ARGUMENT with a BadRequest listing every field that is wrong, not only the first."""
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in violations
        ]
    )
    message = "; ".join(f"{v.field}: {v.description}" for v in violations)
    await _abort(context, code_pb2.INVALID_ARGUMENT, message, detail)


def _with_request_id(trailers: tuple[tuple[str, str | bytes], ...]) -> tuple[tuple[str, str | bytes], ...]:
    """The trailers plus the call's request id: a failed call sends no headers (see observability)."""
    current = request_id.get()
    return (*trailers, (REQUEST_ID_HEADER, current)) if current else trailers


async def abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    """End the call with code; typed NoReturn so callers need no unreachable fallbacks."""
    await context.abort(code, message, _with_request_id(()))
    raise AssertionError("context.abort returned")  # abort always raises


async def abort_failed_precondition(
    context: grpc.aio.ServicerContext, subject: str, kind: str, description: str
) -> NoReturn:
    detail = error_details_pb2.PreconditionFailure(
        violations=[
            error_details_pb2.PreconditionFailure.Violation(
                type=kind, subject=subject, description=description
            )
        ]
    )
    await _abort(context, code_pb2.FAILED_PRECONDITION, description, detail)


async def _abort(
    context: grpc.aio.ServicerContext, code: int, message: str, detail: message_pb.Message
) -> NoReturn:
    packed = any_pb2.Any()
    packed.Pack(detail)
    status = rpc_status.to_status(status_pb2.Status(code=code, message=message, details=[packed]))
    await context.abort(status.code, status.details, _with_request_id(tuple(status.trailing_metadata)))
    raise AssertionError("context.abort returned")  # abort always raises; this satisfies NoReturn
