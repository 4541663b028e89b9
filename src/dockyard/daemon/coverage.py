"""Which Engine API operations the daemon serves, against the reference list
(`engine_api_ops.json`: method, path, operationId, tag). Run as
`python -m dockyard.daemon.coverage [ops.json]` to print the missing ones."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from aiohttp import web

DEFAULT_OPS = (
    Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "engine_api_ops.json"
)


def _pattern(path: str) -> re.Pattern[str]:
    """An aiohttp route path (`/images/{name:.+}/json`) as a regex over API paths."""
    out, i = "", 0
    for m in re.finditer(r"\{([^}:]+)(?::([^}]+))?\}", path):
        out += re.escape(path[i : m.start()]) + "(?:" + (m.group(2) or "[^/]+") + ")"
        i = m.end()
    return re.compile("^" + out + re.escape(path[i:]) + "$")


def served(app: web.Application) -> list[tuple[str, re.Pattern[str]]]:
    routes = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path:
            routes.append((route.method, _pattern(path)))
    return routes


def missing(app: web.Application, ops: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    routes = served(app)
    out = []
    for op in ops:
        sample = re.sub(r"\{[^}]+\}", "x", op["path"])
        if not any(m == op["method"] and p.match(sample) for m, p in routes):
            out.append(op)
    return out


class _Placeholder:
    """Stands in for any backend: every attribute and call gives another one."""

    def __getattr__(self, name: str) -> _Placeholder:
        return _Placeholder()

    def __call__(self, *args: object, **kwargs: object) -> _Placeholder:
        return _Placeholder()


def all_route_tables() -> list[web.RouteTableDef]:
    """Every router module's table, built with placeholder backends (a router may
    read an attribute of its backend while defining routes, never more)."""
    import importlib
    import inspect
    import pkgutil

    from dockyard.daemon import routers

    tables = []
    for info in pkgutil.iter_modules(routers.__path__):
        module = importlib.import_module(f"dockyard.daemon.routers.{info.name}")
        fn = getattr(module, "routes", None)
        if fn is None:
            continue
        params = [
            p for p in inspect.signature(fn).parameters.values()
            if p.default is inspect.Parameter.empty
        ]  # fmt: skip
        tables.append(fn(*[_Placeholder()] * len(params)))
    return tables


def main() -> None:
    from dockyard.daemon.server.app import make_app

    ops_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OPS
    ops = json.loads(ops_path.read_text())["operations"]
    gone = missing(make_app(all_route_tables()), ops)
    print(f"{len(ops) - len(gone)}/{len(ops)} Engine API operations served; missing:")
    for op in gone:
        print(f"  {op['method']:6} {op['path']:45} {op['operationId']}")


if __name__ == "__main__":
    main()
