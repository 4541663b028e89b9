"""The last exec of a container process goes through a tiny static helper in a sealed memfd.

The init and the exec child are forks of a host Python: until they exec, their
``/proc/self/exe`` is the host's interpreter. A program that is a ``#!/proc/self/exe``
script would be run through that link, so the host's binary would run inside the
container and be readable (and, once it ends, writable) through ``/proc/PID/exe``:
CVE-2019-5736. runc answers with a sealed copy of itself (``cloned_binary.c``) or a
tiny static helper (``runc-dmz``); copying the interpreter would also need its
library and standard library, so here a helper of ~500 bytes of machine code
(``exechelper_x86_64.S``, assembled once and kept below as bytes) is written to a
memfd sealed against every change and exec'd with the program's path and argv;
it only calls ``execve`` (and, if that fails, says why as runc does:
"exec /app: exec format error", exit 1). A script naming ``/proc/self/exe`` then
finds the sealed helper, which exits 127 when run without a program.

:func:`prepare` makes the memfd in the runtime's process, in the host, before it
forks into the container (memfd_create may be filtered by the container's
seccomp profile); :func:`execve` in the child execs through it. Machines without
a helper here (any but x86_64) exec the program directly.
"""

from __future__ import annotations

import os

__all__ = ["prepare", "release", "fork", "execve", "helper_elf"]

# exechelper_x86_64.S: `as` then `objcopy -O binary -j .text`
_CODE = {
    "x86_64": bytes.fromhex(
        "488b0c244883f9020f8206010000488d742408488d54cc10488b3e4989f94883c608b83b0000000f"
        "0548f7d84989c0b801000000bf02000000488d35e0000000ba050000000f054c89ce31d2803c1600"
        "740548ffc2ebf5b801000000bf020000000f05b801000000bf02000000488d35b1000000ba020000"
        "000f05488d35a60000000fb60685c0743a0fb656014939c07407488d741602ebe94883c602bf0200"
        "0000b8010000000f05b801000000bf02000000488d356d000000ba010000000f05eb4a4883ec2048"
        "8d74241fc6060a4c89c0b90a00000031d248f7f180c23048ffce88164885c075ee4883ee06c70665"
        "72726e66c746046f20488d5424204829f2bf02000000b8010000000f05bf01000000eb05bf7f0000"
        "00b8e70000000f0565786563203a200a01176f7065726174696f6e206e6f74207065726d69747465"
        "6402196e6f20737563682066696c65206f72206469726563746f72790716617267756d656e74206c"
        "69737420746f6f206c6f6e6708116578656320666f726d6174206572726f720c1663616e6e6f7420"
        "616c6c6f63617465206d656d6f72790d117065726d697373696f6e2064656e696564140f6e6f7420"
        "61206469726563746f72791a0e746578742066696c652062757379241266696c65206e616d652074"
        "6f6f206c6f6e672821746f6f206d616e79206c6576656c73206f662073796d626f6c6963206c696e"
        "6b7300"
    ),
}
_MACHINE = {"x86_64": 62}  # e_machine
_BASE = 0x400000
_MFD_CLOEXEC, _MFD_ALLOW_SEALING, _MFD_EXEC = 0x1, 0x2, 0x10
_F_ADD_SEALS = 1033
# F_SEAL_SEAL | SHRINK | GROW | WRITE, and EXEC (6.3+: the mode bits cannot change)
_SEALS, _F_SEAL_EXEC = 0x1 | 0x2 | 0x4 | 0x8, 0x20

_fd: int | None = None  # the sealed helper of this process (and its forks), if made


def helper_elf(machine: str) -> bytes | None:
    """A minimal static ELF executable (one PT_LOAD segment, read and execute) around
    the helper's code for ``machine`` (``os.uname().machine``); None if there is none."""
    import struct

    code = _CODE.get(machine)
    if code is None:
        return None
    ehsize, phsize = 64, 56
    size = ehsize + phsize + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, SysV
    header = struct.pack(
        "<16sHHIQQQIHHHHHH",
        ident, 2, _MACHINE[machine], 1, _BASE + ehsize + phsize, ehsize, 0, 0,
        ehsize, phsize, 1, 0, 0, 0,
    )  # fmt: skip
    program = struct.pack("<IIQQQQQQ", 1, 0x5, 0, _BASE, _BASE, size, size, 0x1000)
    return header + program + code


def prepare() -> int | None:
    """Make this process's sealed helper (close-on-exec) and remember it for
    :func:`execve`; its fd, or None where there is no helper for this machine."""
    global _fd
    elf = helper_elf(os.uname().machine)
    if elf is None:
        return None
    import fcntl

    try:
        fd = os.memfd_create("dockyard-exec", _MFD_CLOEXEC | _MFD_ALLOW_SEALING | _MFD_EXEC)
    except OSError:  # before 6.3 MFD_EXEC is unknown (and every memfd executable)
        fd = os.memfd_create("dockyard-exec", _MFD_CLOEXEC | _MFD_ALLOW_SEALING)
    try:
        os.write(fd, elf)
        os.fchmod(fd, 0o555)
        try:
            fcntl.fcntl(fd, _F_ADD_SEALS, _SEALS | _F_SEAL_EXEC)
        except OSError:
            fcntl.fcntl(fd, _F_ADD_SEALS, _SEALS)
    except BaseException:
        os.close(fd)
        raise
    _fd = fd
    return fd


def release() -> None:
    """Close the helper in a process that has forked the children that need it."""
    global _fd
    if _fd is not None:
        os.close(_fd)
        _fd = None


def fork() -> int:
    """``os.fork`` with this process's helper made for the child (which execs through
    it) and closed again in the parent."""
    prepare()
    try:
        child = os.fork()
    except BaseException:
        release()
        raise
    if child:
        release()
    return child


def execve(path: str, args: list[str], env: dict[str, str]) -> None:
    """Exec ``path`` with ``args`` through the sealed helper when there is one. Only
    returns by raising the OSError of exec'ing the program directly."""
    if _fd is not None:
        try:
            os.execve(_fd, [path, *args], env)  # fexecve: execveat(AT_EMPTY_PATH)
        except OSError:
            pass  # execveat filtered by the container's seccomp profile
        try:
            os.execve(f"/proc/self/fd/{_fd}", [path, *args], env)
        except OSError:
            pass  # no /proc in the container
    os.execve(path, args, env)
