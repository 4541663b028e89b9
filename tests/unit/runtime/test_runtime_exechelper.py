"""The sealed exec helper: its bytes are what its assembly source assembles to, it execs
the program it is given (argv and environment intact), reports a failed exec, refuses
to run without a program, and its memfd accepts no change."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dockyard.runtime import exechelper

SOURCE = Path(exechelper.__file__).with_name("exechelper_x86_64.S")
pytestmark = pytest.mark.skipif(
    os.uname().machine != "x86_64", reason="the helper exists for x86_64 only"
)


@pytest.fixture()
def helper():
    fd = exechelper.prepare()
    assert fd is not None
    yield fd
    exechelper.release()


def _run(fd: int, *argv: str, env: dict[str, str] | None = None):
    return subprocess.run([f"/proc/self/fd/{fd}", *argv], pass_fds=(fd,), env=env,
                          capture_output=True, text=True)  # fmt: skip


@pytest.mark.skipif(not (shutil.which("as") and shutil.which("objcopy")), reason="binutils")
def test_the_bytes_are_the_assembled_source(tmp_path: Path) -> None:
    subprocess.run(["as", "-o", str(tmp_path / "h.o"), str(SOURCE)], check=True)
    subprocess.run(["objcopy", "-O", "binary", "-j", ".text", str(tmp_path / "h.o"),
                    str(tmp_path / "h.bin")], check=True)  # fmt: skip
    assert (tmp_path / "h.bin").read_bytes() == exechelper._CODE["x86_64"]


def test_execs_the_program_with_its_argv_and_environment(helper: int) -> None:
    script = 'echo "$0 $1 $X"; tr "\\0" " " < /proc/$$/cmdline'
    r = _run(helper, "/bin/sh", "argv0", "-c", script, "zero", "one", env={"X": "x"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["zero one x", f"argv0 -c {script} zero one "]


def test_a_failed_exec_is_reported_and_without_a_program_it_exits_127(helper: int) -> None:
    r = _run(helper, "/nonexistent", "x")
    assert (r.returncode, r.stderr) == (1, "dockyard: exec user process failed: errno 2\n")
    assert _run(helper).returncode == 127
    assert _run(helper, "only-one").returncode == 127


def test_the_memfd_is_sealed(helper: int) -> None:
    with pytest.raises(PermissionError):
        os.write(helper, b"x")
    appender = os.open(f"/proc/self/fd/{helper}", os.O_WRONLY | os.O_APPEND)  # as `>>` does
    try:
        with pytest.raises(PermissionError):
            os.write(appender, b"x")
    finally:
        os.close(appender)
    with pytest.raises(PermissionError):
        os.open(f"/proc/self/fd/{helper}", os.O_WRONLY | os.O_TRUNC)
    with pytest.raises(PermissionError):
        os.ftruncate(helper, 0)
    assert os.readlink(f"/proc/self/fd/{helper}").startswith("/memfd:dockyard-exec")
