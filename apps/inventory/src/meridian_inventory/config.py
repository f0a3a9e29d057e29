"""Twelve-factor configuration: every setting comes from an environment variable named below.

The Kubernetes manifests are written against these exact names, and the orders service (Go) reads the
same ones with the same defaults, so both services are configured alike.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from meridian_inventory.durations import parse_duration

T = TypeVar("T")

# The flow-control window gRPC refuses below (the HTTP/2 default window); 0 keeps gRPC's own sizing.
_MIN_WINDOW = 65535


class ConfigError(Exception):
    """A variable is missing or malformed; the message names it and says what is accepted."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class DatabaseConfig:
    host: str
    port: int
    name: str
    sslmode: str
    credentials_file: str
    pool_max: int
    # How often the service checks that the database answers, for meridian_database_up and its
    # log line; readiness does not depend on it.
    check_interval_seconds: float


@dataclass(frozen=True)
class Config:
    grpc_port: int
    metrics_port: int
    database: DatabaseConfig
    shutdown_grace_seconds: float
    shutdown_drain_seconds: float
    log_level: str
    pod_name: str
    pod_namespace: str
    app_version: str
    app_revision: str
    max_recv_msg_bytes: int
    max_concurrent_streams: int
    initial_window_size: int
    keepalive_time_seconds: float
    keepalive_min_time_seconds: float
    middleware: bool
    # Where spans go (OTLP over gRPC, an http:// or https:// URL); empty exports nothing.
    otlp_endpoint: str


_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_LOG_LEVELS = ("debug", "info", "warning", "warn", "error")


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _get(self, name: str, default: str | None) -> str:
        value = self._env.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise ConfigError(name, "is required and not set")
        return default

    def _convert(self, name: str, default: str | None, convert: Callable[[str], T], form: str) -> T:
        raw = self._get(name, default)
        try:
            return convert(raw)
        except ValueError:
            raise ConfigError(name, f"{raw!r} is not {form}") from None

    def text(self, name: str, default: str | None) -> str:
        return self._get(name, default)

    def integer(self, name: str, default: str, low: int, high: int) -> int:
        value = self._convert(name, default, int, "a whole number")
        if not low <= value <= high:
            raise ConfigError(name, f"{value} is out of range; use {low} to {high}")
        return value

    def port(self, name: str, default: str) -> int:
        return self.integer(name, default, 0, 65535)

    def duration(self, name: str, default: str) -> float:
        raw = self._get(name, default)
        try:
            return parse_duration(raw)
        except ValueError as error:
            raise ConfigError(name, str(error)) from None

    def positive_duration(self, name: str, default: str) -> float:
        value = self.duration(name, default)
        if value <= 0:
            raise ConfigError(name, "must be longer than 0s")
        return value

    def otlp_endpoint(self) -> str:
        """The OpenTelemetry exporter's standard variables; the traces-only one wins, as the
        OpenTelemetry specification says."""
        for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
            raw = self._env.get(name, "").strip()
            if not raw:
                continue
            parts = urllib.parse.urlsplit(raw)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(
                    name,
                    f"{raw!r} is not a URL like http://alloy.monitoring.svc:4317"
                    " (http:// sends in plain text, https:// over TLS)",
                )
            return raw
        return ""

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self._get(name, default).lower()
        if value not in allowed:
            raise ConfigError(name, f"{value!r} is not one of {', '.join(allowed)}")
        return value


def load(env: Mapping[str, str]) -> Config:
    """Read the configuration, raising ConfigError for the first variable that is wrong."""
    read = _Reader(env)
    window = read.integer("GRPC_INITIAL_WINDOW_SIZE", "0", 0, 2**31 - 1)
    if 0 < window < _MIN_WINDOW:
        raise ConfigError(
            "GRPC_INITIAL_WINDOW_SIZE", f"{window} is below {_MIN_WINDOW}; use 0 for gRPC's own sizing"
        )
    return Config(
        grpc_port=read.port("GRPC_PORT", "50051"),
        metrics_port=read.port("METRICS_PORT", "9090"),
        database=DatabaseConfig(
            host=read.text("DB_HOST", "localhost"),
            port=read.port("DB_PORT", "5432"),
            name=read.text("DB_NAME", "inventory"),
            sslmode=read.choice("DB_SSLMODE", "prefer", _SSLMODES),
            credentials_file=read.text("DB_CREDENTIALS_FILE", None),
            pool_max=read.integer("DB_POOL_MAX", "10", 1, 1000),
            check_interval_seconds=read.positive_duration("DB_CHECK_INTERVAL", "5s"),
        ),
        shutdown_grace_seconds=read.duration("SHUTDOWN_GRACE_PERIOD", "20s"),
        shutdown_drain_seconds=read.duration("SHUTDOWN_DRAIN_DELAY", "1s"),
        log_level=read.choice("LOG_LEVEL", "info", _LOG_LEVELS),
        pod_name=read.text("POD_NAME", ""),
        pod_namespace=read.text("POD_NAMESPACE", ""),
        app_version=read.text("APP_VERSION", "dev"),
        app_revision=read.text("APP_REVISION", "unknown"),
        max_recv_msg_bytes=read.integer("GRPC_MAX_RECV_MSG_BYTES", str(4 * 1024 * 1024), 1024, 2**31 - 1),
        max_concurrent_streams=read.integer("GRPC_MAX_CONCURRENT_STREAMS", "100", 1, 2**31 - 1),
        initial_window_size=window,
        keepalive_time_seconds=read.duration("GRPC_KEEPALIVE_TIME", "30s"),
        keepalive_min_time_seconds=read.duration("GRPC_KEEPALIVE_MIN_TIME", "10s"),
        middleware=read.choice("MIDDLEWARE", "on", ("on", "off")) == "on",
        otlp_endpoint=read.otlp_endpoint(),
    )
