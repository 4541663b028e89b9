"""The pure pieces behind exec/attach/cp/stats/top/diff: detach keys, Docker's
stats document, ps parsing, Go file modes, change walking and in-root tars
(on real files)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.api.errors import NotFound
from dockyard.daemon.services import archive, stats
from dockyard.daemon.services.container_ops import parse_ps, walk_changes
from dockyard.proto import detachkeys


@pytest.mark.parametrize(
    ("spec", "keys"),
    [("ctrl-p,ctrl-q", b"\x10\x11"), ("ctrl-x,x", b"\x18x"), ("a,ctrl-@", b"a\x00"),
     ("ctrl-[", b"\x1b")],
)  # fmt: skip
def test_parse_detach_keys(spec: str, keys: bytes) -> None:
    assert detachkeys.parse(spec) == keys


@pytest.mark.parametrize("spec", ["", "ctrl-", "ctrl-1", "abc", "ctrl-pp"])
def test_bad_detach_keys(spec: str) -> None:
    with pytest.raises(ValueError, match="Invalid detach keys"):
        detachkeys.parse(spec)


def test_scanner_holds_a_prefix_and_detaches() -> None:
    s = detachkeys.Scanner(b"\x10\x11")
    assert s.feed(b"ab\x10") == (b"ab", False)  # ctrl-p held back
    assert s.feed(b"c") == (b"\x10c", False)  # not the sequence: passed on
    assert s.feed(b"x\x10\x10") == (b"x\x10", False)
    assert s.feed(b"\x11rest") == (b"", True)


def test_net_dev_and_document() -> None:
    text = (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
        "errs drop fifo colls carrier compressed\n"
        "    lo:     100       1    0    0    0     0          0         0      100       1"
        "    0    0    0     0       0          0\n"
        "  eth0:    2000      20    1    2    0     0          0         0     3000      30"
        "    3    4    0     0       0          0\n"
    )
    nets = stats.parse_net_dev(text)
    assert nets == {"eth0": {"rx_bytes": 2000, "rx_packets": 20, "rx_errors": 1,
                             "rx_dropped": 2, "tx_bytes": 3000, "tx_packets": 30,
                             "tx_errors": 3, "tx_dropped": 4}}  # fmt: skip
    cur = {
        "cpu_total": 50, "percpu": [20, 30], "cpu_user": 10, "cpu_system": 5, "system": 900,
        "online": 2, "throttling": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        "mem_usage": 4096, "mem_max": 8192, "mem_limit": 1 << 63, "mem_failcnt": 0,
        "mem_stat": {"total_inactive_file": 1}, "pids": 3, "pids_limit": 0,
        "blkio_bytes": [], "blkio_ios": [], "net": nets,
    }  # fmt: skip
    doc = stats.document("id1", "/n", "t1", cur, None, "t0", host_mem=1 << 30)
    assert doc["memory_stats"]["limit"] == 1 << 30  # unlimited → the host's memory
    assert doc["pids_stats"] == {"current": 3}
    assert doc["cpu_stats"]["cpu_usage"]["percpu_usage"] == [20, 30]
    assert doc["precpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert doc["networks"]["eth0"]["tx_bytes"] == 3000
    stopped = stats.document("id1", "/n", "z", None, None, "z", host_mem=1)
    assert stopped["memory_stats"] == {} and stopped["pids_stats"] == {}


def test_parse_ps_keeps_the_containers_rows() -> None:
    out = (
        "UID          PID    PPID  C STIME TTY          TIME CMD\n"
        "root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n"
        "root        4242       7  0 10:01 pts/0    00:00:00 sleep 600 with args\n"
    )
    top = parse_ps(out, {4242})
    assert top["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert top["Processes"] == [
        ["root", "4242", "7", "0", "10:01", "pts/0", "00:00:00", "sleep 600 with args"]
    ]


def test_go_modes() -> None:
    assert archive.go_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert archive.go_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert archive.go_mode(stat.S_IFREG | 0o4755) == (1 << 23) | 0o755


def test_walk_changes(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "old").write_text("x")
    (lower / "bin").mkdir()
    (lower / "bin" / "gone").write_text("x")
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "old").write_text("changed")
    (upper / "etc" / "hostname").write_text("")  # a runtime mount point: not a change
    (upper / "bin").mkdir()
    os.mknod(upper / "bin" / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))  # whiteout
    (upper / "new").mkdir()
    got = [(c["Kind"], c["Path"]) for c in walk_changes(str(upper), [str(lower)])]
    assert got == [(0, "/bin"), (2, "/bin/gone"), (0, "/etc"), (0, "/etc/old"), (1, "/new")]


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "d" / "sub").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"data" * 1000)
    (root / "d" / "sub" / "g").write_text("g")
    os.symlink("/", root / "d" / "up")  # would be the host's / if followed
    os.symlink("/etc", root / "etclink")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("container passwd\n")
    return root


def test_tar_path_stays_in_root_and_keeps_links(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    header, chunks = archive.tar_path(str(root), "/d")
    assert archive.parse_stat(header)["name"] == "d"
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
        names = tf.getnames()
        assert names == ["d", "d/f", "d/sub", "d/up", "d/sub/g"]
        assert tf.getmember("d/up").linkname == "/"
        assert tf.extractfile("d/f").read() == b"data" * 1000
    # a path through a symlink resolves inside the root
    _, chunks = archive.tar_path(str(root), "/etclink/passwd")
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
        assert tf.extractfile("passwd").read() == b"container passwd\n"
    _, chunks = archive.tar_path(str(root), "/d/up/etc/passwd")
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
        assert tf.extractfile("passwd").read() == b"container passwd\n"
    with pytest.raises(NotFound):
        archive.tar_path(str(root), "/d/up/" + str(tmp_path).lstrip("/") + "/root/etc/passwd")
    # the link itself, not what it names
    header, _ = archive.tar_path(str(root), "/etclink")
    st = archive.parse_stat(header)
    assert st["linkTarget"] == "/etc" and st["mode"] & (1 << 27)


def test_extract_refuses_to_climb_out(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("esc")
        link.type = tarfile.SYMTYPE
        link.linkname = str(outside)
        tf.addfile(link)
        ti = tarfile.TarInfo("esc/owned")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    buf.seek(0)
    with pytest.raises(Exception, match="invalid archive"):
        archive.extract(str(root), "/etc", buf, False)
    assert list(outside.iterdir()) == []
    # extracting "into" a symlink to / writes under the container's root
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("placed")
        ti.size = 2
        tf.addfile(ti, io.BytesIO(b"ok"))
    buf.seek(0)
    archive.extract(str(root), "/d/up", buf, False)
    assert (root / "placed").read_bytes() == b"ok"
