"""Reading one compose file's YAML: PyYAML's safe loader plus Compose's tags.

Why PyYAML: the project already depends on it and its SafeLoader handles anchors,
aliases and `<<` merge keys as YAML 1.1 defines them. Added: `!reset` and
`!override` (the specification's merge controls), and duplicate keys refused, as
compose-go refuses them. The C loader is used when present: it is ~10× faster.
PyYAML is imported only when a text is not in `yamlcache` (its import is the
costly part of reading an unchanged file).
"""

from __future__ import annotations

from dockyard.compose import yamlcache
from dockyard.compose.errors import ComposeError
from dockyard.compose.merge import RESET, Override

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_loader: Any = None


def _reset(loader: Any, node: Any) -> Any:
    return RESET


def _override(loader: Any, node: Any) -> Any:
    import yaml

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


def loader() -> Any:
    """The safe loader (C when built) with Compose's tags and duplicate-key check."""
    global _loader
    if _loader is None:
        import yaml

        class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
            pass

        Loader.add_constructor("!reset", _reset)
        Loader.add_constructor("!override", _override)
        Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
        _loader = Loader
    return _loader


def parse(text: str, filename: str) -> Any:
    document = yamlcache.get(text)
    if document is not yamlcache.MISSING:
        return document
    import yaml

    try:
        document = yaml.load(text, Loader=loader())  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as e:
        raise ComposeError(f"yaml: {filename}: {e}") from None
    yamlcache.put(text, document)
    return document


def read(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ComposeError(f"open {path}: no such file or directory") from None
    except OSError as e:
        raise ComposeError(f"open {path}: {e.strerror}") from None
    return parse(text, path)
