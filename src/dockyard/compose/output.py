"""`compose config`: the normalised model printed as Compose v2 prints it (YAML or JSON).

Top-level keys in the specification's order (name, services, networks, volumes,
secrets, configs), services and their attributes sorted by name, sequences indented
under their key and strings that would read as another type double-quoted, as Go's
yaml.v3 writes them.
"""

from __future__ import annotations

import json

import yaml

from dockyard.compose.fieldorder import ORDERS, SERVICE_ORDER
from dockyard.compose.model import Project

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _ordered(value: dict[str, Any], order: list[str]) -> dict[str, Any]:
    rank = {k: i for i, k in enumerate(order)}
    keys = sorted(value, key=lambda k: (k.startswith("x-"), rank.get(k, len(rank)), k))
    return {k: value[k] for k in keys}


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _service(cfg: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in _ordered(cfg, SERVICE_ORDER).items():
        if key == "ports":
            value = [_ordered(p, ORDERS["port"]) for p in value]
        elif key == "volumes":
            value = [_ordered(_sorted(m), ORDERS["mount"]) for m in value]
        elif key in ("secrets", "configs"):
            value = [_ordered(m, ORDERS["file_ref"]) for m in value]
        elif key == "depends_on":
            value = {d: _ordered(s, ORDERS["depends_on"]) for d, s in sorted(value.items())}
        elif key in ("build", "healthcheck"):
            value = _ordered(_sorted(value), ORDERS[key])
        else:
            value = _sorted(value)
        out[key] = value
    return out


def document(project: Project) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": project.name}
    doc["services"] = {n: _service(project.services[n].config) for n in sorted(project.services)}
    kinds = {"networks": "network", "volumes": "volume", "secrets": "file", "configs": "file"}
    for key, kind in kinds.items():
        section = getattr(project, key)
        if section:
            doc[key] = {n: _ordered(_sorted(section[n]), ORDERS[kind]) for n in sorted(section)}
    doc.update(_sorted(project.extensions))
    return doc


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # sequences indented under their key


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    implicit = dumper.resolve(yaml.ScalarNode, value, (True, False))
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if implicit != "tag:yaml.org,2002:str" or value == "" or value != value.strip():
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def escape_dollars(text: str) -> str:
    """Literal `$` printed as `$$`, so the output loads back to the same model (as v2)."""
    return text.replace("$", "$$")


def to_yaml(doc: Any) -> str:
    return yaml.dump(
        doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
        width=float("inf"),
    )  # fmt: skip


def to_json(doc: Any) -> str:
    return json.dumps(doc, indent=2) + "\n"
