"""``linux.seccomp`` compiled to BPF by libseccomp and loaded into the init.

Why ctypes on ``libseccomp.so.2`` (imported only to compile): the filter semantics that matter (syscall
name resolution per architecture, multiplexed socketcall/ipc on x86,
argument comparisons split over 32-bit halves, the arch dispatch) are
libseccomp's, and runc uses the same library, so a profile means the same
thing under both runtimes. The Python bindings on PyPI are either unmaintained
(pyseccomp 0.1.2, 2021) or need a compiler to build; the C API used here is
nine stable functions. A hand-written BPF generator was not worth the risk.

The filter is built in the runtime process (``compile_filter``), where the
host's library is reachable, exported as raw BPF (``seccomp_export_bpf``) and
only *loaded* (``Filter.load``, the ``seccomp(2)`` syscall) in the container's
init after ``fork`` and ``pivot_root``. The BPF is cached under the runtime's
``--root`` (``seccomp/<crc32>-<length>``, the section's JSON then the program, root-only): compiling
Docker's default profile costs ~11 ms per container, reading it back ~0.1 ms,
and every container of a daemon shares a handful of profiles. Like runc, libseccomp's own ``no_new_privs`` default is switched off
(``noNewPrivileges`` decides that), names the library doesn't know are
skipped, and an argument rule whose indexes repeat becomes one rule per
condition (libseccomp ANDs the conditions of one rule).
"""

from __future__ import annotations

import errno as _errno

__all__ = ["SeccompError", "Filter", "compile_filter", "action_value", "resolve_syscall"]

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_KILL_THREAD = 0x00000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_LOG = 0x7FFC0000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_FLTATR_CTL_NNP = 3

_OPS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}


class SeccompError(RuntimeError):
    """The profile is invalid or the kernel/library refused it."""


_lib = None
_ArgCmp = None


def _library():
    """libseccomp through ctypes (imported here: only a cache miss compiles)."""
    global _lib, _ArgCmp
    if _lib is None:
        import ctypes

        class ArgCmp(ctypes.Structure):
            _fields_ = [
                ("arg", ctypes.c_uint),
                ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64),
            ]

        _ArgCmp = ArgCmp
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError as e:
            raise SeccompError(f"seccomp: libseccomp.so.2 not found: {e}") from None
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(ArgCmp),
        ]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        _lib = lib
    return _lib


def resolve_syscall(name: str) -> int:
    """The native syscall number of ``name`` (negative when unknown)."""
    return _library().seccomp_syscall_resolve_name(name.encode())


def action_value(action: str, errno_ret: int | None, default_errno: int | None = None) -> int:
    """An OCI action name (and errnoRet) as libseccomp's action word."""
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        code = errno_ret if errno_ret is not None else default_errno
        code = _errno.EPERM if code is None else code
        base = 0x00050000 if action == "SCMP_ACT_ERRNO" else 0x7FF00000
        return base | (code & 0xFFFF)
    values = {
        "SCMP_ACT_KILL": SCMP_ACT_KILL_THREAD,
        "SCMP_ACT_KILL_THREAD": SCMP_ACT_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": SCMP_ACT_KILL_PROCESS,
        "SCMP_ACT_TRAP": SCMP_ACT_TRAP,
        "SCMP_ACT_LOG": SCMP_ACT_LOG,
        "SCMP_ACT_ALLOW": SCMP_ACT_ALLOW,
    }
    if action not in values:
        raise SeccompError(f"seccomp: unsupported action {action!r}")
    return values[action]


def _arch_name(name: str) -> str:
    n = name.removeprefix("SCMP_ARCH_").lower()
    return {"x86_64": "x86_64", "x86": "x86", "x32": "x32"}.get(n, n)


def _conditions(args: list[dict]) -> list[list]:
    """Each rule's comparisons, as libseccomp's ``struct scmp_arg_cmp`` (needs ``_library``)."""
    conds = []
    for a in args:
        op = _OPS.get(a.get("op", ""))
        if op is None:
            raise SeccompError(f"seccomp: unknown comparison operator {a.get('op')!r}")
        index = int(a.get("index", 0))
        if not 0 <= index < 6:
            raise SeccompError(f"seccomp: argument index {index} out of range")
        conds.append(_ArgCmp(index, op, int(a.get("value", 0)), int(a.get("valueTwo", 0))))
    indexes = [c.arg for c in conds]
    if len(set(indexes)) != len(indexes):
        return [[c] for c in conds]  # runc: repeated index -> one rule per condition
    return [conds]


SYS_SECCOMP = 317  # x86_64
SECCOMP_SET_MODE_FILTER = 1
_LOAD_FLAGS = {"SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}


class Filter:
    """A compiled BPF program; ``load`` installs it in the calling process."""

    def __init__(self, program: bytes, flags: int = 0):
        from . import libc

        self.program, self.flags = program, flags
        # everything load() needs is made now: it runs after pivot_root
        self._libc = libc
        self._program = libc.buffer(program)
        # struct sock_fprog: unsigned short len (instructions), padding, the filter's address
        self._fprog = libc.buffer(
            (len(program) // 8).to_bytes(8, "little")
            + libc.address(self._program).to_bytes(8, "little")
        )
        self._syscall = libc.function("syscall", returns_long=True)

    def load(self) -> None:
        long = self._libc.Long
        rc = self._syscall(
            long(SYS_SECCOMP), long(SECCOMP_SET_MODE_FILTER), long(self.flags), self._fprog
        )
        if rc < 0:
            code = self._libc.errno()
            raise OSError(code, f"seccomp: loading the filter failed: {_errno_text(code)}")


def _errno_text(code: int) -> str:
    import os

    return os.strerror(code)


def compile_filter(section: dict, cache_dir: str | None = None) -> Filter | None:
    """The filter of a ``linux.seccomp`` object (None: nothing to load), from the cache
    in ``cache_dir`` when this exact section was compiled before."""
    if not section:
        return None
    import os

    flags = 0
    for flag in section.get("flags") or []:
        flags |= _LOAD_FLAGS.get(flag, 0)
    path = text = None
    if cache_dir:
        # key: crc32 of the section's JSON, which the entry repeats and is checked against
        # (hashlib's import alone costs more than loading the filter); root-only directory
        import zlib

        from . import jsontext

        text = jsontext.dumps(section).encode()
        path = os.path.join(cache_dir, f"{zlib.crc32(text):08x}-{len(text)}")
        try:
            with open(path, "rb") as f:
                cached = f.read()
            if cached[: len(text)] == text and cached[len(text) : len(text) + 1] == b"\n":
                return Filter(cached[len(text) + 1 :], flags)
        except FileNotFoundError:
            pass
    program = _compile(section)
    if path and text is not None:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(text + b"\n" + program)
        os.rename(tmp, path)
    return Filter(program, flags)


def _compile(section: dict) -> bytes:
    """libseccomp: the section as a BPF program (struct sock_filter[])."""
    lib = _library()
    default_errno = section.get("defaultErrnoRet")
    default = action_value(section.get("defaultAction", ""), default_errno)
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise SeccompError("seccomp: seccomp_init failed")

    def check(rc: int, what: str) -> None:
        if rc < 0 and rc != -_errno.EEXIST:
            lib.seccomp_release(ctx)
            raise SeccompError(f"seccomp: {what}: {_errno_text(-rc)}")

    check(lib.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "clearing no_new_privs")
    for arch in section.get("architectures") or []:
        token = lib.seccomp_arch_resolve_name(_arch_name(arch).encode())
        if token == 0:
            continue  # an architecture this libseccomp doesn't know: skipped, as runc
        check(lib.seccomp_arch_add(ctx, token), f"adding architecture {arch}")
    for rule in section.get("syscalls") or []:
        action = action_value(rule.get("action", ""), rule.get("errnoRet"), None)
        if action == default:
            continue  # libseccomp refuses rules equal to the default action
        groups = _conditions(rule.get("args") or [])
        for name in rule.get("names") or []:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number == -1:  # __NR_SCMP_ERROR: unknown to this libseccomp, skipped as runc
                continue
            for conds in groups:
                array = (_ArgCmp * max(1, len(conds)))(*conds)
                check(
                    lib.seccomp_rule_add_array(ctx, action, number, len(conds), array),
                    f"adding rule for {name}",
                )
    import os

    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise SeccompError(f"seccomp: exporting the filter: {_errno_text(-rc)}")
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
        lib.seccomp_release(ctx)
    return b"".join(chunks)
