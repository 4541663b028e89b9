"""Merging compose files and `extends` bases, by the specification's merge rules (pure).

Mappings merge key by key; sequences append (exact scalar duplicates dropped);
`command`, `entrypoint` and `healthcheck.test` are replaced; the unique resources
merge by their key (`volumes` by target, `secrets`/`configs` by target, `ports` by
host ip, target, published and protocol); an overriding file's `!reset` removes a
key and `!override` replaces a value instead of merging. Both sides are in the
long form `normalize` makes.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Reset:
    """YAML `!reset`: drop what earlier files set for this key."""

    def __repr__(self) -> str:
        return "!reset"


RESET = Reset()


class Override:
    """YAML `!override VALUE`: replace what earlier files set, without merging."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"!override {self.value!r}"


REPLACED = {"command", "entrypoint"}


def _port_key(p: dict[str, Any]) -> Any:
    return (p.get("host_ip", ""), p.get("target"), p.get("published"), p.get("protocol", "tcp"))


def _file_key(item: dict[str, Any]) -> Any:
    return item.get("target") or item.get("source")


KEYED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "ports": _port_key,
    "volumes": lambda m: m.get("target"),
    "secrets": _file_key,
    "configs": _file_key,
}


def _merge_keyed(base: list[Any], over: list[Any], key: Callable[[Any], Any]) -> list[Any]:
    out = list(base)
    index = {key(item): i for i, item in enumerate(out) if isinstance(item, dict)}
    for item in over:
        k = key(item) if isinstance(item, dict) else None
        if k is not None and k in index:
            out[index[k]] = merge_values(out[index[k]], item)
        else:
            if k is not None:
                index[k] = len(out)
            out.append(item)
    return out


def _merge_lists(base: list[Any], over: list[Any]) -> list[Any]:
    out = list(base)
    for item in over:
        if isinstance(item, dict | list) or item not in out:
            out.append(item)
    return out


def merge_values(base: Any, over: Any, key: str = "") -> Any:
    if isinstance(over, Override):
        return over.value
    if isinstance(base, dict) and isinstance(over, dict):
        return merge_mappings(base, over)
    if isinstance(base, list) and isinstance(over, list) and key not in REPLACED:
        if key in KEYED:
            return _merge_keyed(base, over, KEYED[key])
        return _merge_lists(base, over)
    return over


def merge_mappings(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Reset):
            out.pop(key, None)
        elif key == "healthcheck" and isinstance(value, dict) and isinstance(out.get(key), dict):
            hc = merge_mappings(out[key], {k: v for k, v in value.items() if k != "test"})
            if "test" in value:
                hc["test"] = value["test"]
            out[key] = hc
        elif key in out:
            out[key] = merge_values(out[key], value, key)
        else:
            out[key] = value.value if isinstance(value, Override) else value
    return out


def strip_tags(value: Any) -> Any:
    """The model without `!reset`/`!override` markers (a lone file's own tags)."""
    if isinstance(value, Override):
        return strip_tags(value.value)
    if isinstance(value, dict):
        return {k: strip_tags(v) for k, v in value.items() if not isinstance(v, Reset)}
    if isinstance(value, list):
        return [strip_tags(v) for v in value if not isinstance(v, Reset)]
    return value
