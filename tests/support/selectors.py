"""Kubernetes label-selector semantics, for tests that judge rendered objects the way the API does."""

from __future__ import annotations

from typing import Any


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Label selector semantics; a Service's plain selector map is matchLabels."""
    if selector is None:
        return False
    match_labels = selector.get("matchLabels", {} if "matchExpressions" in selector else selector)
    if not all(labels.get(k) == v for k, v in (match_labels or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and labels.get(key) in values)
            or (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
        ):
            return False
    return True
