"""Reading rendered objects the way the cluster would: label selectors, pod templates, named ports,
NetworkPolicy admission of a flow, and Alertmanager's routing tree."""

from __future__ import annotations

import re
from typing import Any

from support.selectors import selects

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if obj["kind"] in WORKLOAD_KINDS:
        return obj["spec"]["template"]["spec"]
    return None


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    if obj["kind"] == "Pod":
        return obj["metadata"].get("labels") or {}
    return (obj["spec"]["template"].get("metadata") or {}).get("labels") or {}


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def container_port(spec: dict[str, Any], target: int | str) -> int:
    if isinstance(target, int):
        return target
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    raise AssertionError(f"no container port named {target}")


def ingress_allows_anywhere(policies: list[dict[str, Any]], labels: dict[str, str], port: int) -> bool:
    """Whether an Ingress NetworkPolicy selecting the pod lets any address (the API server's) in on `port`."""
    for policy in policies:
        spec = policy["spec"]
        if "Ingress" not in spec.get("policyTypes", []) or not selects(spec["podSelector"], labels):
            continue
        for rule in spec.get("ingress") or []:
            if _port_listed(rule, port) and (
                not rule.get("from") or any(_everywhere(peer) for peer in rule["from"])
            ):
                return True
    return False


def egress_allows_addresses(policies: list[dict[str, Any]], labels: dict[str, str], port: int) -> bool:
    """Whether an Egress NetworkPolicy selecting the pod lets it reach any address (a node's) on `port`."""
    for policy in policies:
        spec = policy["spec"]
        if "Egress" not in spec.get("policyTypes", []) or not selects(spec["podSelector"], labels):
            continue
        for rule in spec.get("egress") or []:
            if _port_listed(rule, port) and (not rule.get("to") or any(_everywhere(p) for p in rule["to"])):
                return True
    return False


def _port_listed(rule: dict[str, Any], port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports)


def _everywhere(peer: dict[str, Any]) -> bool:
    block = peer.get("ipBlock")
    return bool(block) and block["cidr"] in {"0.0.0.0/0", "::/0"} and not block.get("except")


_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


def route(tree: dict[str, Any], labels: dict[str, str]) -> str:
    """The receiver Alertmanager picks for an alert with `labels` (first matching route, depth first)."""
    for child in tree.get("routes") or []:
        if _matches(child, labels):
            return route({"receiver": child.get("receiver", tree["receiver"]), **child}, labels)
    return str(tree["receiver"])


def _matches(node: dict[str, Any], labels: dict[str, str]) -> bool:
    for matcher in node.get("matchers") or []:
        parsed = _MATCHER.match(matcher)
        assert parsed, f"matcher {matcher!r} does not parse"
        name, op, value = parsed.groups()
        actual = labels.get(name, "")
        ok = {
            "=": actual == value,
            "!=": actual != value,
            "=~": re.fullmatch(value, actual) is not None,
            "!~": re.fullmatch(value, actual) is None,
        }[op]
        if not ok:
            return False
    return True
