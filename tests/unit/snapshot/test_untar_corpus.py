"""The malicious corpus (tests/tarcorpus.py) straight through the one extractor,
in both modes, with the openat2 resolver and with its O_NOFOLLOW fallback:
nothing changes outside the destination and each case gets its error."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from dockyard import rootpath
from dockyard.api.errors import DockyardError
from dockyard.untar import LAYER, PLAIN, untar
from tests.tarcorpus import CVE_MARKER, Case, assert_untouched, corpus, make_outside

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod, chown)")


def _cases() -> list[Case]:
    return corpus(Path("/nonexistent-placeholder"))


@root_only
@pytest.mark.parametrize("fallback", [False, True], ids=["openat2", "nofollow-walk"])
@pytest.mark.parametrize("mode", [LAYER, PLAIN], ids=["layer", "plain"])
@pytest.mark.parametrize("index", range(len(_cases())), ids=[c.name for c in _cases()])
def test_corpus(
    tmp_path: Path, index: int, mode: str, fallback: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fallback:
        monkeypatch.setattr(rootpath, "_HAVE_OPENAT2", False)
    outside = make_outside(tmp_path)
    case = corpus(outside)[index]
    # the CVE recipe aims at the destination's parent: keep a canary there too
    (tmp_path / "flag").write_bytes(b"parent canary")
    dest = tmp_path / "dest"
    dest.mkdir()
    expected = case.layer if mode == LAYER else case.plain
    if expected is None:
        untar(str(dest), io.BytesIO(case.tar), mode=mode)
    else:
        with pytest.raises(DockyardError) as e:
            untar(str(dest), io.BytesIO(case.tar), mode=mode)
        assert expected in str(e.value), (case.name, str(e.value))
        assert e.value.status == 400
    assert_untouched(outside, case.name)
    assert (tmp_path / "flag").read_bytes() == b"parent canary"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "flag", "outside"]
    assert not any(CVE_MARKER in names for _, _, names in os.walk(tmp_path / "outside"))


@root_only
def test_plain_mode_follows_symlinks_inside_the_root(tmp_path: Path) -> None:
    """As Docker's chrooted untar: a merged-/usr image (`lib -> usr/lib`) gets the
    file where the link leads; absolute names and links are relative to the root."""
    from tests.tarcorpus import make_tar

    dest = tmp_path / "dest"
    (dest / "usr" / "lib").mkdir(parents=True)
    os.symlink("usr/lib", dest / "lib")
    os.symlink("/usr", dest / "abs")
    tar = make_tar(
        ("lib/libx.so", "f", b"x", {}),
        ("abs/lib/liby.so", "f", b"y", {}),
        ("/etc/zz", "f", b"z", {}),
        ("hl", "h", "/usr/lib/libx.so", {}),
    )
    untar(str(dest), io.BytesIO(tar), mode=PLAIN)
    assert (dest / "usr/lib/libx.so").read_bytes() == b"x"
    assert (dest / "usr/lib/liby.so").read_bytes() == b"y"
    assert (dest / "etc/zz").read_bytes() == b"z"
    assert os.path.islink(dest / "lib")
    assert (dest / "hl").stat().st_ino == (dest / "usr/lib/libx.so").stat().st_ino
    # a `.wh.` name is a plain file outside of layers
    untar(str(dest), io.BytesIO(make_tar((".wh.zz", "f", b"", {}))), mode=PLAIN)
    assert (dest / ".wh.zz").is_file()


@root_only
@pytest.mark.parametrize("fallback", [False, True], ids=["openat2", "nofollow-walk"])
def test_plain_mode_scope_is_the_rootfs(
    tmp_path: Path, fallback: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Into /opt of a rootfs (docker cp, ADD to a subdirectory): an absolute link in
    the archive leads where it leads in the container, never above its rootfs."""
    from tests.tarcorpus import make_tar

    if fallback:
        monkeypatch.setattr(rootpath, "_HAVE_OPENAT2", False)
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr" / "lib").mkdir(parents=True)
    (rootfs / "opt").mkdir()
    tar = make_tar(("lib", "l", "/usr/lib", {}), ("lib/x", "f", b"x", {}),
                   ("up", "l", "../../../..", {}))  # fmt: skip
    with pytest.raises(DockyardError, match="invalid symlink"):
        untar(str(rootfs / "opt"), io.BytesIO(tar), mode=PLAIN, scope=(str(rootfs), "/opt"))
    tar = make_tar(("lib", "l", "/usr/lib", {}), ("lib/x", "f", b"x", {}),
                   ("up", "l", "/../../..", {}), ("up/y", "f", b"y", {}))  # fmt: skip
    untar(str(rootfs / "opt"), io.BytesIO(tar), mode=PLAIN, scope=(str(rootfs), "/opt"))
    assert (rootfs / "usr/lib/x").read_bytes() == b"x"
    assert (rootfs / "y").read_bytes() == b"y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rootfs"]
