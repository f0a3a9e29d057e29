"""The inventory process: database, gRPC server, health, reflection, tracing and metrics, started
and stopped in the order that lets Kubernetes drain a replica without failing a call."""

from __future__ import annotations

import asyncio
import threading
from wsgiref.simple_server import WSGIServer

import grpc
import prometheus_client
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from psycopg_pool import AsyncConnectionPool

from meridian_inventory import APP_NAME, database, logs, migrate, reflection, tracing
from meridian_inventory.config import Config
from meridian_inventory.db_check import DatabaseCheck
from meridian_inventory.gen import inventory_pb2, inventory_pb2_grpc
from meridian_inventory.metrics import ServerMetrics
from meridian_inventory.observability import ObservabilityInterceptor
from meridian_inventory.service import InventoryService
from meridian_inventory.store import Store
from meridian_inventory.watch import StockHub

SERVICE_NAME = inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name
# How long the server waits for a keepalive ping's answer before it drops the connection.
_KEEPALIVE_TIMEOUT_MS = 20_000


def grpc_options(config: Config) -> list[tuple[str, int]]:
    options = [
        ("grpc.max_receive_message_length", config.max_recv_msg_bytes),
        ("grpc.max_concurrent_streams", config.max_concurrent_streams),
        # Pings idle clients so connections through NATs and load balancers stay open.
        ("grpc.keepalive_time_ms", int(config.keepalive_time_seconds * 1000)),
        ("grpc.keepalive_timeout_ms", _KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        # Enforcement: clients pinging more often than this get GOAWAY (too_many_pings).
        ("grpc.http2.min_ping_interval_without_data_ms", int(config.keepalive_min_time_seconds * 1000)),
        ("grpc.http2.max_ping_strikes", 2),
        # Without this a second process could bind the same port and silently share the traffic.
        ("grpc.so_reuseport", 0),
    ]
    if config.initial_window_size:
        # A fixed window replaces gRPC's bandwidth-delay probing, which would resize it.
        options += [("grpc.http2.lookahead_bytes", config.initial_window_size), ("grpc.http2.bdp_probe", 0)]
    return options


class InventoryServer:
    def __init__(self, config: Config) -> None:
        self._config = config
        self.registry = prometheus_client.CollectorRegistry()
        self.health = health.aio.HealthServicer()
        self.grpc_port = 0
        self.metrics_port = 0
        self._pool: AsyncConnectionPool | None = None
        self._hub: StockHub | None = None
        self._db_check: DatabaseCheck | None = None
        self._tracing: tracing.Tracing | None = None
        self._server: grpc.aio.Server | None = None
        self._metrics_http: tuple[WSGIServer, threading.Thread] | None = None

    async def start(self) -> None:
        config = self._config
        log = logs.get()
        self._pool = await database.open_pool(config.database)
        async with self._pool.connection() as conn:
            applied = await migrate.apply(conn, migrate.discover())
        log.info("database ready", extra={"fields": {"migrations_applied": applied}})

        self._hub = StockHub(lambda: database.connect(config.database, autocommit=True))
        await self._hub.start()

        prometheus_client.disable_created_metrics()
        metrics = ServerMetrics(self.registry, APP_NAME, config.app_version, config.app_revision)
        interval = config.database.check_interval_seconds
        self._db_check = DatabaseCheck(self._pool, interval, metrics.database_up)
        self._db_check.start()

        self._tracing = tracing.start(config)
        log.info(
            "tracing",
            extra={"fields": {"exporting": self._tracing is not None, "otlp_endpoint": config.otlp_endpoint}},
        )
        interceptors: list[grpc.aio.ServerInterceptor] = []
        if config.middleware:
            # The tracing interceptor goes first, so the call's log line can name its trace.
            if self._tracing is not None:
                interceptors.append(self._tracing.interceptor())
            interceptors.append(ObservabilityInterceptor(metrics))
        server = grpc.aio.server(interceptors=interceptors, options=grpc_options(config))
        inventory_pb2_grpc.add_InventoryServiceServicer_to_server(
            InventoryService(Store(self._pool), self._hub), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable(server, (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name))
        self.grpc_port = server.add_insecure_port(f"[::]:{config.grpc_port}")
        self._server = server
        await server.start()

        http_server, thread = prometheus_client.start_http_server(config.metrics_port, registry=self.registry)
        self._metrics_http = (http_server, thread)
        self.metrics_port = http_server.server_port

        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        await self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving",
            extra={"fields": {"grpc_port": self.grpc_port, "metrics_port": self.metrics_port}},
        )

    async def stop(self) -> None:
        """NOT_SERVING first, and a drain delay so load balancers and health-checking clients move
        away; then refuse new calls, finish the ones in flight within the grace period, and close
        the rest; then send the spans still buffered."""
        log = logs.get()
        grace = self._config.shutdown_grace_seconds
        log.info("shutting down", extra={"fields": {"grace_period_s": grace}})
        await self.health.enter_graceful_shutdown()
        if self._hub is not None:
            await self._hub.close()
        # Health-checking clients stop sending here once they see NOT_SERVING. Calls that reach
        # gRPC after stop() but before the service picked them up are cancelled, not refused with
        # UNAVAILABLE, so clients would not retry them elsewhere: give the clients time to leave.
        await asyncio.sleep(self._config.shutdown_drain_seconds)
        if self._server is not None:
            await self._server.stop(grace)
        if self._metrics_http is not None:
            http_server, thread = self._metrics_http
            await asyncio.to_thread(http_server.shutdown)
            http_server.server_close()
            thread.join()
        if self._db_check is not None:
            await self._db_check.close()
        if self._pool is not None:
            await self._pool.close()
        if self._tracing is not None:
            await self._tracing.shutdown()
        log.info("stopped")
