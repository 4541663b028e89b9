"""Reading one compose file's YAML: PyYAML's safe loader plus Compose's tags.

Why PyYAML: the project already depends on it and its SafeLoader handles anchors,
aliases and `<<` merge keys as YAML 1.1 defines them. Added: `!reset` and
`!override` (the specification's merge controls), and duplicate keys refused, as
compose-go refuses them. The C loader is used when present: it is ~10× faster.
"""

from __future__ import annotations

import yaml

from dockyard.compose.errors import ComposeError
from dockyard.compose.merge import RESET, Override

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    pass


def _reset(loader: Any, node: Any) -> Any:
    return RESET


def _override(loader: Any, node: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))


def _mapping(loader: Any, node: Any) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # keys a `<<` brings in may be overridden by explicit ones
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            mark = key_node.start_mark
            raise ComposeError(
                f"yaml: line {mark.line + 1}: mapping key {str(key)!r} already defined"
            )
        seen.add(key)
    loader.flatten_mapping(node)  # applies `<<` merge keys
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor("!reset", _reset)
_Loader.add_constructor("!override", _override)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse(text: str, filename: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as e:
        raise ComposeError(f"yaml: {filename}: {e}") from None


def read(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ComposeError(f"open {path}: no such file or directory") from None
    except OSError as e:
        raise ComposeError(f"open {path}: {e.strerror}") from None
    return parse(text, path)
