"""Which metrics, and which of their labels, a PromQL expression reads, and where our queries live.

Not a PromQL parser: promtool checks the syntax. This strips what cannot name a metric (strings,
grouping clauses, label matchers, ranges, function calls, keywords) and keeps what remains.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
_SELECTOR = re.compile(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN"}


def metric_names(expr: str) -> set[str]:
    """Every metric name the expression selects."""
    text = _STRING.sub('""', expr)
    text = _GROUPING.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name not in _KEYWORDS}


def selector_labels(expr: str) -> dict[str, set[str]]:
    """Per selected metric, the label names its matchers test."""
    labels: dict[str, set[str]] = {}
    for name, matchers in _SELECTOR.findall(_STRING.sub('""', expr)):
        labels.setdefault(name, set()).update(_MATCHER_LABEL.findall(matchers))
    return labels


def dashboard_queries(dashboard: dict[str, Any], datasource_type: str = "prometheus") -> Iterator[str]:
    """Every query of the dashboard's panels against one kind of data source."""
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            if target.get("datasource", {}).get("type") == datasource_type:
                yield target["expr"]


def rule_exprs(groups: list[dict[str, Any]]) -> Iterator[str]:
    for group in groups:
        for rule in group["rules"]:
            yield rule["expr"]


def recorded(groups: list[dict[str, Any]]) -> set[str]:
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}
