"""Docker's `KEY=VALUE` environment lists, pure: the one rule for setting a
variable in one (moby's replaceOrAppendEnvValues and the builder's ENV), shared
by container creation, exec and the Dockerfile config engine.
"""

from __future__ import annotations

from typing import Any

__all__ = ["env_map", "replace_or_append_env"]


def replace_or_append_env(env: list[str], item: str) -> list[str]:
    """`item` set in `env`: a variable already there is replaced in place (its
    position kept, as Docker keeps it), a new one appended; `NAME` without a
    value removes it (`-e NAME` when the variable is not set)."""
    key = item.split("=", 1)[0]
    out = [e for e in env if e.split("=", 1)[0] != key]
    if "=" not in item:
        return out
    if len(out) == len(env):
        return [*env, item]
    return [item if e.split("=", 1)[0] == key else e for e in env]


def env_map(config: dict[str, Any]) -> dict[str, str]:
    """A container config's `Env` as a mapping (the last value of a name wins)."""
    out: dict[str, str] = {}
    for kv in config.get("Env") or []:
        k, _, v = kv.partition("=")
        out[k] = v
    return out
