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


def _elf_with_interpreter(path: Path, interpreter: Path) -> None:
    """A minimal x86_64 executable whose PT_INTERP names `interpreter`."""
    import struct

    name = str(interpreter).encode() + b"\0"
    size = 64 + 2 * 56 + len(name)
    header = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1,
                         0x400000, 64, 0, 0, 64, 56, 2, 0, 0, 0)  # fmt: skip
    interp = struct.pack("<IIQQQQQQ", 3, 4, 64 + 112, 0x400000 + 176, 0, len(name), len(name), 1)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, size, size, 0x1000)
    path.write_bytes(header + interp + load + name)
    path.chmod(0o755)


def test_a_failed_exec_says_why_in_runcs_words(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"  # an ELF for another machine (aarch64)
    foreign.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\xb7\x00" + bytes(44))
    foreign.chmod(0o755)
    not_elf = tmp_path / "not-elf"  # an executable the loader is not
    not_elf.write_bytes(b"plain text, no shebang\n" * 4)
    not_elf.chmod(0o755)
    bad_loader = tmp_path / "bad-loader"
    _elf_with_interpreter(bad_loader, not_elf)
    fd = exechelper.prepare()
    try:
        wrong_machine = _run(fd, str(foreign), "foreign")
        bad_interpreter = _run(fd, str(bad_loader), "bad-loader")
    finally:
        exechelper.release()
    assert (wrong_machine.returncode, wrong_machine.stderr) == (
        1, f"exec {foreign}: exec format error\n")  # fmt: skip
    # ELIBBAD (80) is not in the helper's table: its number is shown
    assert (bad_interpreter.returncode, bad_interpreter.stderr) == (
        1, f"exec {bad_loader}: errno 80\n")  # fmt: skip


def test_execs_the_program_with_its_argv_and_environment(helper: int) -> None:
    script = 'echo "$0 $1 $X"; tr "\\0" " " < /proc/$$/cmdline'
    r = _run(helper, "/bin/sh", "argv0", "-c", script, "zero", "one", env={"X": "x"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["zero one x", f"argv0 -c {script} zero one "]


def test_a_failed_exec_is_reported_and_without_a_program_it_exits_127(helper: int) -> None:
    r = _run(helper, "/nonexistent", "x")
    assert (r.returncode, r.stderr) == (1, "exec /nonexistent: no such file or directory\n")
    r = _run(helper, "/etc/passwd", "x")  # not executable
    assert (r.returncode, r.stderr) == (1, "exec /etc/passwd: permission denied\n")
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
