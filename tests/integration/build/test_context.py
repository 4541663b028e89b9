"""The build context as the daemon receives it (`builder.context`), without a
daemon: an indexed tar answers globs and checksums exactly as its unpacked
tree does, unpacking writes that tree and nothing outside it, and malicious
tars are refused."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.builder.context import TarContext
from dockyard.builder.copy import CopyError, glob_sources
from dockyard.builder.ctxsum import checksum
from dockyard.builder.fsview import HOST


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", mode: int = 0o644,
            link: str = "") -> tuple[tarfile.TarInfo, bytes]:  # fmt: skip
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.linkname, ti.size, ti.mtime = kind, mode, link, len(data), 1_700_000_000
    return ti, data


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
    return path


def _open(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> TarContext:
    root = tmp_path / "ctx"
    root.mkdir()
    return TarContext.open(str(root), str(_tar(tmp_path / "ctx.tar", members)))


def _tree(root: Path) -> dict[str, tuple[int, bytes | str | None]]:
    out: dict[str, tuple[int, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            body: bytes | str | None = None
            if stat.S_ISREG(st.st_mode):
                body = p.read_bytes()
            elif stat.S_ISLNK(st.st_mode):
                body = os.readlink(p)
            out[str(p.relative_to(root))] = (st.st_mode, body)
    return out


CONTEXT = [
    _member("Dockerfile", data=b"FROM busybox\n"),
    _member("app/", tarfile.DIRTYPE, mode=0o775),
    _member("app/run.sh", data=b"#!/bin/sh\necho hi\n", mode=0o4775),  # set-id and g+w dropped
    _member("app/empty", data=b""),
    _member("app/sub/deep/file.txt", data=b"deep\n"),  # parents implied
    _member("app/link", tarfile.SYMTYPE, link="sub/deep"),
    _member("app/abs", tarfile.SYMTYPE, link="/app/sub"),
    _member("app/hard", tarfile.LNKTYPE, link="app/run.sh", mode=0o600),
    _member("app/replaced", data=b"first\n"),
    _member("app/replaced", data=b"second\n"),
    _member("/abs/name.txt", data=b"leading slash dropped\n"),
    _member("x" * 150 + "/" + "y" * 120, data=b"long\n"),
    _member("notes.log", data=b"ignored\n"),
    _member("keep/", tarfile.DIRTYPE),
    _member("keep/a.log", data=b"ignored too\n"),
    _member("keep/b.log", data=b"re-included\n"),
    _member(".dockerignore", data=b"*.log\nkeep/*.log\n!keep/b.log\n"),
]
SOURCES = [".", "app", "app/*", "app/link", "app/link/*", "app/abs/*/f*", "*/sub",
           "app/hard", "keep", "x*"]  # fmt: skip


def test_index_and_unpacked_tree_give_the_same_keys(tmp_path: Path) -> None:
    ctx = _open(tmp_path, CONTEXT)
    try:
        ctx.apply_dockerignore()
        assert ctx.read("Dockerfile") == b"FROM busybox\n"
        from_index = {s: checksum(glob_sources(ctx.root, s, ctx), ctx) for s in SOURCES}
        ctx.unpack()
    finally:
        ctx.close()
    root = Path(ctx.root)
    from_dir = {s: checksum(glob_sources(str(root), s, HOST), HOST) for s in SOURCES}
    assert from_index == from_dir
    assert len(set(from_dir.values())) == len(SOURCES)
    tree = _tree(root)
    assert "notes.log" not in tree and "keep/a.log" not in tree and "keep/b.log" in tree
    assert tree["app/run.sh"] == (stat.S_IFREG | 0o755, b"#!/bin/sh\necho hi\n")
    assert tree["app/hard"] == (stat.S_IFREG | 0o600, b"#!/bin/sh\necho hi\n")
    assert tree["app/replaced"][1] == b"second\n"
    assert tree["app/sub"][0] == stat.S_IFDIR | 0o755 and tree["app"][0] == stat.S_IFDIR | 0o755
    assert tree["app/abs"] == (stat.S_IFLNK | 0o777, "/app/sub")
    assert tree["abs/name.txt"][1] == b"leading slash dropped\n"
    assert tree["x" * 150 + "/" + "y" * 120][1] == b"long\n"
    assert (root / "app" / "run.sh").stat().st_mtime == 1_700_000_000
    assert (root / "app").stat().st_mtime == 1_700_000_000  # a directory's too


def test_a_changed_file_changes_only_its_keys(tmp_path: Path) -> None:
    changed = [m if m[0].name != "app/empty" else _member("app/empty", data=b"x") for m in CONTEXT]
    keys = []
    for i, members in enumerate((CONTEXT, changed)):
        (tmp_path / str(i)).mkdir()
        ctx = _open(tmp_path / str(i), members)
        try:
            keys.append({s: checksum(glob_sources(ctx.root, s, ctx), ctx) for s in SOURCES})
        finally:
            ctx.close()
    same = {s for s in SOURCES if keys[0][s] == keys[1][s]}
    assert same == {"app/link", "app/link/*", "app/abs/*/f*", "*/sub", "app/hard", "keep", "x*"}


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([_member("../evil", data=b"x")], "leaves the context"),
        ([_member("a/../../evil", data=b"x")], "leaves the context"),
        ([_member("lnk", tarfile.SYMTYPE, link="/etc"), _member("lnk/evil", data=b"x")],
         "not a directory"),
        ([_member("lnk", tarfile.SYMTYPE, link="sub"), _member("lnk/evil", data=b"x")],
         "not a directory"),
        ([_member("f", data=b"x"), _member("f/evil", data=b"x")], "not a directory"),
        ([_member("h", tarfile.LNKTYPE, link="../../etc/passwd")], "leaves the context"),
        ([_member("h", tarfile.LNKTYPE, link="etc/passwd")], "not a file of the context"),
        ([_member("s", tarfile.SYMTYPE, link="/etc/shadow"),
          _member("h", tarfile.LNKTYPE, link="s")], "not a file of the context"),
    ],
)  # fmt: skip
def test_malicious_tars_are_refused(tmp_path: Path, members: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _open(tmp_path, members)
    assert sorted(os.listdir(tmp_path)) == ["ctx", "ctx.tar"]
    assert os.listdir(tmp_path / "ctx") == []


def test_unpack_into_a_kept_tree_replaces_without_following(tmp_path: Path) -> None:
    """A kept context (dockyard build's) may hold symlinks where the new tar
    has directories or files: they are replaced, never written through."""
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "d").symlink_to(outside)
    (root / "f").symlink_to(outside / "victim")
    (root / "olddir").mkdir()
    (root / "olddir" / "x").write_text("old")
    spool = _tar(tmp_path / "in.tar", [_member("d/new", data=b"n"), _member("f", data=b"f"),
                                       _member("olddir", data=b"now a file")])  # fmt: skip
    ctx = TarContext.open(str(root), str(spool))
    try:
        ctx.unpack()
    finally:
        ctx.close()
    assert os.listdir(outside) == []
    assert (root / "d").is_dir() and not (root / "d").is_symlink()
    assert (root / "d" / "new").read_bytes() == b"n"
    assert not (root / "f").is_symlink() and (root / "f").read_bytes() == b"f"
    assert (root / "olddir").read_bytes() == b"now a file"


def test_globs_resolve_symlinks_inside_the_context(tmp_path: Path) -> None:
    root = tmp_path / "ctx"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "mine").write_text("in the context\n")
    (root / "up").symlink_to("/")
    found = glob_sources(str(root), "up/etc/*")
    assert found == [(str(root / "etc" / "mine"), "up/etc/mine")]
    with pytest.raises(CopyError):
        glob_sources(str(root), "up/proc/sel*")


def test_a_body_that_is_not_a_tar_is_the_dockerfile(tmp_path: Path) -> None:
    root = tmp_path / "ctx"
    root.mkdir()
    spool = tmp_path / "body"
    spool.write_bytes(b"FROM busybox\nRUN true\n")
    ctx = TarContext.open(str(root), str(spool))
    try:
        assert ctx.read("Dockerfile") == b"FROM busybox\nRUN true\n"
        assert ctx.listdir(str(root)) == ["Dockerfile"]
    finally:
        ctx.close()


def test_a_compressed_context_is_indexed_as_plain(tmp_path: Path) -> None:
    import gzip

    raw = _tar(tmp_path / "plain.tar", CONTEXT[:3]).read_bytes()
    root = tmp_path / "ctx"
    root.mkdir()
    spool = tmp_path / "body"
    spool.write_bytes(gzip.compress(raw))
    ctx = TarContext.open(str(root), str(spool))
    try:
        assert ctx.read("app/run.sh") == b"#!/bin/sh\necho hi\n"
    finally:
        ctx.close()
    assert spool.read_bytes().startswith(raw)


def test_an_unclosed_tar_is_read_and_a_truncated_one_refused(tmp_path: Path) -> None:
    """The docker CLI sends a context with a Dockerfile from outside it as a tar
    that ends right after the last file's bytes (no padding, no end blocks)."""
    raw = _tar(tmp_path / "whole.tar", [_member("a", data=b"A"), _member("b", data=b"B" * 47)])
    data = raw.read_bytes()
    end = 512 * 3 + 47  # header a, data a, header b, then b's 47 bytes
    for name, cut, ok in (("unclosed", end, True), ("truncated", end - 1, False)):
        root = tmp_path / name
        root.mkdir()
        spool = tmp_path / f"{name}.tar"
        spool.write_bytes(data[:cut])
        if not ok:
            with pytest.raises(ValueError, match="unexpected end of data"):
                TarContext.open(str(root), str(spool))
            continue
        ctx = TarContext.open(str(root), str(spool))
        try:
            assert ctx.read("b") == b"B" * 47
        finally:
            ctx.close()


@pytest.mark.parametrize("piece", [1, 511, 513, 65536])
def test_hashes_taken_while_receiving_match_the_index(tmp_path: Path, piece: int) -> None:
    import hashlib

    from dockyard.builder.ctxsum import TarStreamHasher

    members = [*CONTEXT, _member("big", data=os.urandom(300_000)), _member("zero", data=b"")]
    data = _tar(tmp_path / "in.tar", members).read_bytes()
    hasher = TarStreamHasher()
    for i in range(0, len(data), piece):
        hasher.feed(data[i : i + piece])
    regular = {(ti.offset_data, ti.size): hashlib.sha256(body).hexdigest()
               for ti, body in _read_back(data) if ti.isreg() and ti.size}  # fmt: skip
    assert hasher.digests == regular
    # the index takes them by byte range
    root = tmp_path / "ctx"
    root.mkdir()
    spool = tmp_path / "spool.tar"
    spool.write_bytes(data)
    ctx = TarContext.open(str(root), str(spool), hasher.digests)
    try:
        assert ctx.sha256(str(root / "big")) == hashlib.sha256(members[-2][1]).hexdigest()
    finally:
        ctx.close()


def _read_back(data: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return [(ti, tf.extractfile(ti).read() if ti.isreg() else b"") for ti in tf]  # type: ignore[union-attr]


def test_hashes_of_a_compressed_body_are_not_used(tmp_path: Path) -> None:
    import gzip

    raw = _tar(tmp_path / "plain.tar", [_member("f", data=b"plain bytes\n")]).read_bytes()
    spool = tmp_path / "body"
    spool.write_bytes(gzip.compress(raw))
    root = tmp_path / "ctx"
    root.mkdir()
    wrong = {(512, 12): "0" * 64, (1024, 12): "0" * 64}  # ranges of the compressed body
    ctx = TarContext.open(str(root), str(spool), wrong)
    try:
        import hashlib

        assert ctx.sha256(str(root / "f")) == hashlib.sha256(b"plain bytes\n").hexdigest()
    finally:
        ctx.close()


def test_a_miss_unpacks_only_what_it_copies(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = _open(tmp_path / "a", CONTEXT)
    try:
        whole.unpack()
    finally:
        whole.close()
    part = _open(tmp_path / "b", CONTEXT)
    root = Path(part.root)
    try:
        part.unpack([str(root / "app" / "sub"), str(root / "app" / "link")])
        assert sorted(_tree(root)) == ["app", "app/link", "app/sub", "app/sub/deep",
                                       "app/sub/deep/file.txt"]  # fmt: skip
        part.unpack([str(root / "keep")])
        assert "keep/b.log" in _tree(root) and "Dockerfile" not in _tree(root)
        part.unpack()  # the rest, nothing twice
    finally:
        part.close()
    assert _tree(root) == _tree(Path(whole.root))
    assert (root / "app").stat().st_mtime == 1_700_000_000


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("piece", [100, 4096, 1 << 20])
def test_a_body_kept_in_memory_reads_as_the_spooled_one(tmp_path: Path, piece: int) -> None:
    data = _tar(tmp_path / "in.tar", CONTEXT).read_bytes()
    results = []
    for name, kept in (("file", None), ("memory", _pieces(data, piece))):
        root = tmp_path / name
        root.mkdir()
        spool = tmp_path / f"{name}.tar"
        if kept is None:
            spool.write_bytes(data)
        ctx = TarContext.open(str(root), str(spool), None, kept)
        try:
            ctx.apply_dockerignore()
            keys = {s: checksum(glob_sources(ctx.root, s, ctx), ctx) for s in SOURCES}
            ctx.unpack([str(root / "app")])
            ctx.unpack()
        finally:
            ctx.close()
        results.append((keys, _tree(root)))
    assert results[0] == results[1]
    assert not (tmp_path / "memory.tar").exists()  # nothing written but the tree


def test_memory_bodies_refuse_what_files_refuse(tmp_path: Path) -> None:
    import gzip

    evil = _tar(tmp_path / "evil.tar", [_member("lnk", tarfile.SYMTYPE, link="/etc"),
                                        _member("lnk/x", data=b"x")]).read_bytes()  # fmt: skip
    (tmp_path / "ctx").mkdir()
    with pytest.raises(ValueError, match="not a directory"):
        TarContext.open(str(tmp_path / "ctx"), str(tmp_path / "s"), None, _pieces(evil, 300))
    good = _tar(tmp_path / "good.tar", [_member("f", data=b"F" * 47)]).read_bytes()
    with pytest.raises(ValueError, match="unexpected end of data"):
        TarContext.open(str(tmp_path / "ctx"), str(tmp_path / "s"), None, [good[: 512 + 40]])
    unclosed = TarContext.open(str(tmp_path / "ctx"), str(tmp_path / "s"), None, [good[:559]])
    try:
        assert unclosed.read("f") == b"F" * 47
    finally:
        unclosed.close()
    packed = TarContext.open(str(tmp_path / "ctx"), str(tmp_path / "s"), None,
                             _pieces(gzip.compress(good), 10))  # fmt: skip
    try:  # a compressed body goes through the spool file
        assert packed.read("f") == b"F" * 47
    finally:
        packed.close()
