"""Server reflection under both of its names: grpc.reflection.v1, which grpcurl, buf curl and
grpc-go's tools ask for first, and grpc.reflection.v1alpha, the one grpcio-reflection implements.

The two protocols are the same messages, field for field, under two package names, so the v1
service is grpcio-reflection's own servicer behind a method handler that reads and writes the
v1alpha messages: the bytes on the wire are exactly what a v1 client expects.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
V1ALPHA_SERVICE_NAME: str = reflection.SERVICE_NAME


def enable(server: grpc.aio.Server, service_names: Iterable[str]) -> None:
    """Offer reflection of service_names, and of both reflection services, on server."""
    servicer = reflection.aio.ReflectionServicer((*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, {"ServerReflectionInfo": v1}),)
    )
