"""Placement constraints as swarmkit has them: `node.id`, `node.hostname`, `node.role`,
`node.platform.os|arch`, `node.labels.<k>`, `engine.labels.<k>` with `==` or `!=`."""

from __future__ import annotations

import re
from typing import Any

from dockyard.api.errors import InvalidParameter

_EXPR = re.compile(r"^\s*([\w.\-/]+)\s*(==|!=)\s*(.*?)\s*$")
_KEYS = ("node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch",
         "node.ip")  # fmt: skip


def parse(expr: str) -> tuple[str, str, str]:
    m = _EXPR.match(expr)
    if expr.count("==") + expr.count("!=") != 1 or m is None:
        raise InvalidParameter(
            "rpc error: code = InvalidArgument desc = constraint expected one operator from ==, !="
        )
    key, op, value = m.groups()
    if key.lower() not in _KEYS and not key.lower().startswith(("node.labels.", "engine.labels.")):
        raise InvalidParameter(
            f"rpc error: code = InvalidArgument desc = constraint key {key!r} is not supported"
        )
    return key, op, value


def validate(exprs: list[str]) -> None:
    for e in exprs:
        parse(e)


def _node_value(node: dict[str, Any], key: str) -> str | None:
    desc = node.get("Description") or {}
    k = key.lower()
    if k == "node.id":
        return str(node["ID"])
    if k == "node.hostname":
        return str(desc.get("Hostname", ""))
    if k == "node.role":
        return str(node["Spec"].get("Role", ""))
    if k == "node.platform.os":
        return str((desc.get("Platform") or {}).get("OS", ""))
    if k == "node.platform.arch":
        return str((desc.get("Platform") or {}).get("Architecture", ""))
    if k == "node.ip":
        return str((node.get("Status") or {}).get("Addr", ""))
    if k.startswith("node.labels."):
        return (node["Spec"].get("Labels") or {}).get(key[len("node.labels.") :])
    if k.startswith("engine.labels."):
        engine = desc.get("Engine") or {}
        return (engine.get("Labels") or {}).get(key[len("engine.labels.") :])
    return None


def matches(node: dict[str, Any], exprs: list[str]) -> bool:
    for e in exprs:
        key, op, value = parse(e)
        have = _node_value(node, key)
        if key.lower() in ("node.hostname", "node.role", "node.platform.os"):
            equal = have is not None and have.lower() == value.lower()
        else:
            equal = have == value
        if equal != (op == "=="):
            return False
    return True
