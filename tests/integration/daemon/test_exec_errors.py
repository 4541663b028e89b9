"""A program the kernel will not exec fails as under dockerd: exit code 1 and runc's
"exec PATH: REASON" in the container's output (the exec helper says it, since nothing
of the runtime is left to report it once the init has gone on to exec)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]


def test_a_binary_for_another_machine(engine, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"  # an aarch64 ELF header (x86_64 runs this test)
    foreign.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\xb7\x00" + bytes(44))
    foreign.chmod(0o755)
    name = f"exerr-{uuid.uuid4().hex[:8]}"
    r = engine.docker("create", "--network", "none", "--name", name, "busybox", "/foreign")
    assert r.returncode == 0, r.stderr
    engine.made.append(name)
    assert engine.docker("cp", str(foreign), f"{name}:/foreign").returncode == 0
    r = engine.docker("start", "-a", name)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert engine.docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "1"
    logs = engine.docker("logs", name)
    assert (logs.stdout + logs.stderr).strip() == "exec /foreign: exec format error"
