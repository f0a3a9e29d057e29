"""Inventory configuration: the shared variable names, Go-style durations, errors naming the variable."""

from __future__ import annotations

import pytest
from meridian_inventory.config import ConfigError, load
from meridian_inventory.durations import parse_duration

MINIMAL = {"DB_CREDENTIALS_FILE": "/vault/secrets/db.json"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20s", 20.0), ("1m30s", 90.0), ("250ms", 0.25), ("1.5h", 5400.0), ("0", 0.0), ("10us", 1e-5)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["20", "s", "1m30", "-5s", "20 s", ""])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_defaults() -> None:
    config = load(MINIMAL)
    assert (config.grpc_port, config.metrics_port) == (50051, 9090)
    assert config.shutdown_grace_seconds == 20.0
    assert config.shutdown_drain_seconds == 1.0
    assert config.database.pool_max == 10
    assert config.middleware is True
    assert config.initial_window_size == 0
    assert config.database.check_interval_seconds == 5.0
    assert config.otlp_endpoint == ""  # nothing is exported unless an endpoint is set


def test_overrides() -> None:
    config = load(
        {
            **MINIMAL,
            "SHUTDOWN_GRACE_PERIOD": "45s",
            "SHUTDOWN_DRAIN_DELAY": "3s",
            "GRPC_INITIAL_WINDOW_SIZE": "1048576",
            "MIDDLEWARE": "off",
        }
    )
    assert config.shutdown_grace_seconds == 45.0
    assert config.shutdown_drain_seconds == 3.0
    assert config.initial_window_size == 1048576
    assert config.middleware is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GRPC_PORT", "abc"),
        ("METRICS_PORT", "70000"),
        ("SHUTDOWN_GRACE_PERIOD", "20"),
        ("SHUTDOWN_DRAIN_DELAY", "a moment"),
        ("GRPC_INITIAL_WINDOW_SIZE", "1000"),
        ("DB_SSLMODE", "sometimes"),
        ("LOG_LEVEL", "chatty"),
        ("DB_POOL_MAX", "0"),
        ("DB_CHECK_INTERVAL", "0s"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "alloy:4317"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://alloy:4317"),
    ],
)
def test_errors_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load({**MINIMAL, variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")


def test_credentials_file_is_required() -> None:
    with pytest.raises(ConfigError) as caught:
        load({})
    assert caught.value.variable == "DB_CREDENTIALS_FILE"


def test_the_traces_endpoint_wins_over_the_general_one() -> None:
    config = load(
        {
            **MINIMAL,
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:14317",
        }
    )
    assert config.otlp_endpoint == "http://127.0.0.1:14317"
