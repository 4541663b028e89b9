"""A corpus of malicious tar archives, generated (nothing binary is checked in).

Every case aims at a canary directory on the host (`outside`, holding `flag`):
a file written, created, linked or removed there is an escape. Each case says
what the project's extractor must answer in its two modes:

- `layer` (image layers: load, import, pull): nothing goes through a symlink;
- `plain` (ADD in a build, PUT /containers/{id}/archive): names are resolved
  inside the destination as a chroot would (Docker untars there in a chroot),
  so a symlink to `/x` leads to `<dest>/x`, absolute names are relative.

An expectation is a fragment of the error message, or None when the archive is
accepted (and everything it wrote must then be inside the destination).

The CVE-2025-4517 case follows CPython's own test (test_tarfile's
test_realpath_limit_attack): a chain of directories and symlinks whose
expansion overflows PATH_MAX, so `os.path.realpath` stops expanding and a
`..` symlink at its end points above the destination; a hard link through it
to the canary, then a write to that hard link, then a new file through it.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

CANARY = b"canary, must not change\n"
_UP = "../" * 40  # above any destination a test uses


@dataclass(frozen=True)
class Case:
    name: str
    tar: bytes
    layer: str | None  # error fragment for layer extraction (None: accepted)
    plain: str | None  # error fragment for ADD / PUT archive (None: accepted)


def _member(name: str, kind: str, arg: str | bytes = b"", **kw: object) -> tuple:
    return (name, kind, arg, kw)


def make_tar(*members: tuple, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """members: (name, kind, arg, attrs); kind f (arg: data), d, l / h (arg: target), c, fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, kind, arg, kw in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1_700_000_000
            ti.mode = 0o777 if kind == "d" else 0o644
            data = None
            if kind == "f":
                payload = arg if isinstance(arg, bytes) else arg.encode()
                ti.size = len(payload)
                data = io.BytesIO(payload)
            elif kind == "d":
                ti.type = tarfile.DIRTYPE
            elif kind in ("l", "h"):
                ti.type = tarfile.SYMTYPE if kind == "l" else tarfile.LNKTYPE
                ti.linkname = str(arg)
            elif kind == "c":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = 1, 3
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            for k, v in kw.items():
                setattr(ti, k, v)
            tf.addfile(ti, data)
    return buf.getvalue()


def _raw_pax_name(name: bytes, key: bytes = b"path", kind: bytes = tarfile.REGTYPE) -> bytes:
    """A tar whose member's `key` (path, linkpath) comes from a PAX record holding
    raw bytes (tarfile will not write a NUL or an over-long name itself)."""
    body = b" " + key + b"=" + name + b"\n"
    digits = next(d for d in range(1, 9) if len(str(len(body) + d)) == d)
    record = str(len(body) + digits).encode() + body
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type = tarfile.XHDTYPE
    pax.size = len(record)
    member = tarfile.TarInfo("placeholder")
    member.type = kind
    member.linkname = "placeholder" if kind != tarfile.REGTYPE else ""
    member.size = 1 if kind == tarfile.REGTYPE else 0
    out = pax.tobuf(tarfile.USTAR_FORMAT) + record + b"\0" * (-len(record) % 512)
    out += member.tobuf(tarfile.USTAR_FORMAT)
    if kind == tarfile.REGTYPE:
        out += b"x" + b"\0" * 511
    return out + b"\0" * 1024


CVE_MARKER = "pwned-cve-2025-4517"


def realpath_overflow(component_len: int = 247) -> bytes:
    """CVE-2025-4517 as CPython's test builds it: directories and symlinks whose
    expansion overflows PATH_MAX, a last symlink climbing back to the destination,
    `escape` -> its parent (the destination's parent once expanded), a hard link
    to `escape/flag`, a write through it, and a new file (CVE_MARKER) through
    `escape`. Every link is lexically inside the destination; only resolving
    them shows where they lead."""
    steps = "abcdefghijklmnop"
    comp = "d" * component_len
    members = []
    path = ""
    for step in steps:
        members.append(_member(f"{path}{comp}", "d"))
        members.append(_member(f"{path}{step}", "l", comp))
        path += comp + "/"
    linkpath = "/".join(steps) + "/" + "l" * 254
    members.append(_member(linkpath, "l", "/".join([".."] * len(steps))))
    members.append(_member("escape", "l", linkpath + "/.."))
    members.append(_member("flaglink", "h", "escape/flag"))
    members.append(_member("flaglink", "f", b"overwrite"))
    members.append(_member("escape/" + CVE_MARKER, "f", b"new"))
    return make_tar(*members)


def corpus(outside: Path) -> list[Case]:
    """Every case, aimed at `outside` (which holds `flag`)."""
    out = str(outside)
    rel_out = _UP + out.lstrip("/")
    t = make_tar
    m = _member
    return [
        Case("realpath overflow (CVE-2025-4517)", realpath_overflow(),
             "symlink cannot be a parent", "not in the archive"),
        Case("dot-dot name", t(m(rel_out + "/pwned", "f", b"x")), "escapes the", "escapes the"),
        Case("dot-dot in the middle", t(m("a/../../" + rel_out + "/pwned", "f", b"x")),
             "escapes the", "escapes the"),
        Case("absolute name", t(m(out + "/pwned", "f", b"x")), "absolute path", None),
        Case("symlink out, file through it",
             t(m("lnk", "l", out), m("lnk/pwned", "f", b"x")), "symlink cannot be a parent", "leads to no directory"),
        Case("relative symlink climbing out", t(m("lnk", "l", rel_out), m("lnk/pwned", "f", b"x")),
             "symlink cannot be a parent", "invalid symlink"),
        Case("hard link out (relative)", t(m("h", "h", rel_out + "/flag"), m("h", "f", b"x")),
             "escapes the", "escapes the"),
        Case("hard link out (absolute)", t(m("h", "h", out + "/flag"), m("h", "f", b"x")),
             "absolute path", "not in the archive"),
        Case("hard link through a symlink",
             t(m("lnk", "l", out), m("h", "h", "lnk/flag"), m("h", "f", b"x")),
             "symlink cannot be a parent", "not in the archive"),
        Case("device node out", t(m(rel_out + "/dev", "c")), "escapes the", "escapes the"),
        Case("device node through a symlink", t(m("lnk", "l", out), m("lnk/dev", "c")),
             "symlink cannot be a parent", "leads to no directory"),
        Case("fifo over the canary through a symlink",
             t(m("lnk", "l", out), m("lnk/flag", "fifo")), "symlink cannot be a parent", "leads to no directory"),
        Case("whiteout through a symlink", t(m("lnk", "l", out), m("lnk/.wh.flag", "f")),
             "symlink cannot be a parent", "leads to no directory"),
        Case("opaque whiteout through a symlink",
             t(m("lnk", "l", out), m("lnk/.wh..wh..opq", "f")), "symlink cannot be a parent", "leads to no directory"),
        Case("whiteout climbing out", t(m(rel_out + "/.wh.flag", "f")), "escapes the", "escapes the"),
        Case("NUL in a name", _raw_pax_name(b"ok\0/../" + rel_out.encode() + b"/pwned"),
             "NUL", "NUL"),
        Case("NUL in a link name", _raw_pax_name(b"ok\0/" + rel_out.encode() + b"/flag", b"linkpath",
                                                 tarfile.LNKTYPE), "NUL", "NUL"),
        Case("NUL in a symlink target",
             _raw_pax_name(b"/ok\0/" + rel_out.encode(), b"linkpath", tarfile.SYMTYPE), "NUL", "NUL"),
        Case("name longer than PATH_MAX", _raw_pax_name(b"d/" * 2100 + b"f"),
             "too long", "too long"),
        Case("component longer than NAME_MAX", t(m("x" * 300, "f", b"x")), "too long", "too long"),
    ]  # fmt: skip


def make_outside(base: Path) -> Path:
    outside = base / "outside"
    outside.mkdir()
    (outside / "flag").write_bytes(CANARY)
    return outside


def assert_untouched(outside: Path, case: str) -> None:
    names = sorted(p.name for p in outside.iterdir())
    assert names == ["flag"], (case, names)
    assert (outside / "flag").read_bytes() == CANARY, case
    assert (outside / "flag").stat().st_nlink == 1, case
