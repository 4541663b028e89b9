"""cli/ imports only cli/, client/, proto/, api/ and the pure helpers (issue 13): the
CLI talks to a daemon over the Engine API and never runs daemon, store or registry
code itself. Two lazy entry points are allowed, imported only when their command
runs: `dockyard compose` (compose/ drives any daemon through client/) and
`dockyard registry serve` (a registry server of its own, in its own process)."""

from __future__ import annotations

import ast
from pathlib import Path

import dockyard.cli

CLI = Path(dockyard.cli.__file__).parent
ALLOWED = ("dockyard.cli", "dockyard.client", "dockyard.proto", "dockyard.api",
           "dockyard.dockerfile", "dockyard.humanize", "dockyard.untar")  # fmt: skip
ENTRY_POINTS = {
    ("main.py", "dockyard.compose.cli"),
    ("registry.py", "dockyard.registry.server.main"),
}


def _imports(tree: ast.Module) -> list[tuple[str, bool]]:
    """(module, at module level) of every dockyard import in a file."""
    top = {id(n) for n in tree.body} | {
        id(c) for n in tree.body if isinstance(n, ast.If) for c in n.body
    }  # module level, including `if TYPE_CHECKING:` blocks
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [(n, id(node) in top) for n in names if n.split(".")[0] == "dockyard"]
    return found


def test_cli_imports_only_the_client_side() -> None:
    wrong = []
    for path in sorted(CLI.glob("*.py")):
        for module, module_level in _imports(ast.parse(path.read_text())):
            if module == "dockyard" or module.startswith(tuple(a + "." for a in ALLOWED)):
                continue
            if module in ALLOWED:
                continue
            if (path.name, module) in ENTRY_POINTS and not module_level:
                continue
            wrong.append(f"{path.name}: {module}{' (module level)' if module_level else ''}")
    assert wrong == []


def test_the_check_sees_a_wrong_import() -> None:
    tree = ast.parse(
        "import os\nfrom dockyard.daemon import main\ndef f():\n    import dockyard.store\n"
    )
    assert _imports(tree) == [("dockyard.daemon", True), ("dockyard.store", False)]
