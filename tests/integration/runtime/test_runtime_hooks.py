"""OCI hooks under runc and dockyard-runtime: same hooks run, in the same order, with the
same state on stdin; a failing hook fails ``run`` the same way."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]

HOST_HOOKS = ("prestart", "createRuntime", "createContainer", "poststart", "poststop")


def _hooks(tmp: Path, bundle) -> None:
    """Each host-side hook appends its name and its stdin to tmp/log; startContainer
    runs in the container (its path is the container's) and writes /start.json there."""
    script = tmp / "hook.sh"
    script.write_text('#!/bin/sh\n{ echo "$1"; cat; echo; } >> "$2"\n')
    script.chmod(0o755)
    hooks = {
        name: [{"path": str(script), "args": ["hook.sh", name, str(tmp / "log")]}]
        for name in HOST_HOOKS
    }
    hooks["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /start.json"]}]
    bundle.config["hooks"] = hooks
    bundle.config["root"]["readonly"] = False


def _log(path: Path) -> list[tuple[str, dict]]:
    lines = path.read_text().splitlines()
    return [(lines[i], json.loads(lines[i + 1])) for i in range(0, len(lines), 2)]


def test_hooks_same_as_runc(runtimes, bundle, tmp_path):
    seen = {}
    for runtime in runtimes:
        where = tmp_path / runtime.name
        where.mkdir()
        _hooks(where, bundle)
        bundle.config["annotations"] = {"org.example": "x"}
        bundle.write(["true"])
        (bundle.rootfs / "start.json").unlink(missing_ok=True)
        r = runtime.run(bundle.path)
        assert r.returncode == 0, r.stderr
        log = _log(where / "log")
        start = json.loads((bundle.rootfs / "start.json").read_text())
        seen[runtime.name] = (
            [name for name, _ in log],
            [(s["status"], s.get("pid", 0) > 0, s["bundle"], s.get("annotations")) for _, s in log],
            (start["status"], start["pid"] > 0),
        )
        ids = {s["id"] for _, s in log} | {start["id"]}
        assert len(ids) == 1
    assert seen["dockyard"] == seen["runc"], seen
    assert seen["runc"][0] == list(HOST_HOOKS)


def test_failing_prestart_hook(runtimes, bundle, tmp_path):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/false", "args": ["false"]}]}
    bundle.write(["true"])
    codes = {}
    for runtime in runtimes:
        r = runtime.run(bundle.path)
        codes[runtime.name] = r.returncode
        assert b"hook #0: error running hook: exit status 1" in r.stderr, r.stderr
    assert codes == {"runc": 1, "dockyard": 1}


def test_hook_timeout(dockyard, bundle):
    bundle.config["hooks"] = {
        "createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}]
    }
    bundle.write(["true"])
    r = dockyard.run(bundle.path)
    assert r.returncode == 1 and b"timeout after 1 seconds" in r.stderr
