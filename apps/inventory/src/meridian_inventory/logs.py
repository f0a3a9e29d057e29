"""JSON log lines on stdout, one object per line, with the pod's identity on every line so Loki can
be queried by pod and namespace without relabelling."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "meridian_inventory"


class JsonFormatter(logging.Formatter):
    def __init__(self, static_fields: dict[str, str]) -> None:
        super().__init__()
        self._static = static_fields

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            **self._static,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str, app: str, pod: str, namespace: str) -> logging.Logger:
    """The service's logger, writing JSON to stdout at the given level."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter({"app": app, "pod": pod, "namespace": namespace}))
    logger.addHandler(handler)
    logger.setLevel(level.upper() if level != "warn" else "WARNING")
    # The service's lines only: records must not reach the root logger and print twice.
    logger.propagate = False
    return logger


def get() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)
