from __future__ import annotations

import pytest
from fake_syscall import FakeSyscall

from dockyard.mountflags import MS_BIND, MS_RDONLY, MS_REC, MS_REMOUNT, MS_SLAVE
from dockyard.runtime import rootfs
from dockyard.runtime.spec import default_spec, parse_spec

ROOT = "/b/rootfs"


def _fs(**links: str) -> FakeSyscall:
    tree = {"/b": "dir", ROOT: "dir", ROOT + "/etc": "dir", ROOT + "/dev": "dir"}
    for name, target in links.items():
        tree[f"{ROOT}/{name}"] = ("link", target)
    return FakeSyscall(tree)


@pytest.mark.parametrize(
    ("unsafe", "expected"),
    [
        ("/etc/passwd", ROOT + "/etc/passwd"),
        ("etc", ROOT + "/etc"),
        ("/", ROOT),
        ("/../../..", ROOT),
        ("/a/../../etc", ROOT + "/etc"),
        ("/hostetc/x", ROOT + "/etc/x"),  # absolute link target: relative to the rootfs
        ("/up/x", ROOT + "/etc/x"),  # ../ beyond the root clamps at the rootfs
        ("/loop/x", None),
        ("/chain/y", ROOT + "/etc/y"),
    ],
)
def test_secure_join_never_leaves_root(unsafe, expected):
    fs = _fs(hostetc="/etc", up="../../../../etc", loop="loop", chain="hostetc")
    if expected is None:
        with pytest.raises(rootfs.RootfsError):
            rootfs.secure_join(ROOT, unsafe, fs)
    else:
        assert rootfs.secure_join(ROOT, unsafe, fs) == expected


def _spec(**edits) -> object:
    raw = default_spec(["true"], terminal=False)
    raw.update(edits)
    return parse_spec(raw, "/b")


def test_prepare_rootfs_order_and_targets():
    fs = _fs()
    spec = _spec(
        mounts=[
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/data",
                "type": "bind",
                "source": "/",
                "options": ["rbind", "ro", "rprivate"],
            },
        ]
    )
    rootfs.prepare_rootfs(fs, spec, create_cwd="/work")
    mounts = [c for c in fs.calls if c[0] == "mount"]
    assert mounts[0] == ("mount", None, "/", None, MS_SLAVE | MS_REC, None)
    assert mounts[1] == ("mount", ROOT, ROOT, "bind", MS_BIND | MS_REC, None)
    assert mounts[2] == ("mount", "proc", f"fd:{ROOT}/proc", "proc", 0, "")
    assert mounts[3] == ("mount", "/", f"fd:{ROOT}/data", None, MS_BIND | MS_REC, None)
    assert mounts[4][2:5] == (f"fd:{ROOT}/data", None, MS_RDONLY | MS_BIND | MS_REMOUNT)
    assert ("mkdir", ROOT + "/data") in fs.calls and ("mkdir", ROOT + "/work") in fs.calls
    nodes = {c[1]: (c[3], c[4]) for c in fs.calls if c[0] == "mknod"}
    assert nodes[ROOT + "/dev/null"] == (1, 3) and nodes[ROOT + "/dev/tty"] == (5, 0)
    assert ("symlink", "pts/ptmx", ROOT + "/dev/ptmx") in fs.calls
    names = [c[0] for c in fs.calls]
    assert names.index("pivot_root") > names.index("symlink")
    assert fs.calls[names.index("pivot_root") + 1 :][:3] == [
        ("fchdir", "/"),
        ("mount", None, ".", None, MS_SLAVE | MS_REC, None),
        ("umount2", ".", 2),
    ]


def test_symlinked_destination_is_created_inside_root():
    fs = _fs(hostetc="/etc")
    spec = _spec(mounts=[{"destination": "/hostetc/new/dir", "type": "tmpfs", "source": "t"}])
    rootfs.prepare_rootfs(fs, spec)
    assert ("mkdir", ROOT + "/etc/new/dir") in fs.calls
    assert all(not (c[0] == "mkdir" and c[1].startswith("/etc")) for c in fs.calls)


def test_mount_refuses_fd_that_escaped():
    fs = _fs()
    fs.fd_path = lambda fd: "/etc"  # as if the path were swapped after resolution
    spec = _spec(mounts=[{"destination": "/x", "type": "tmpfs", "source": "t"}])
    with pytest.raises(rootfs.RootfsError, match="escaped"):
        rootfs.prepare_rootfs(fs, spec)


def test_mask_paths_uses_tmpfs_for_directories():
    fs = FakeSyscall()

    def mount(source, target, fstype, flags, data):
        if target == "/proc/acpi" and source == "/dev/null":
            raise NotADirectoryError(20, "Not a directory")
        if target == "/missing":
            raise FileNotFoundError(2, "No such file")
        fs.calls.append(("mount", source, target, fstype, flags))

    fs.mount = mount
    rootfs.mask_paths(fs, ["/proc/kcore", "/proc/acpi", "/missing"])
    assert fs.calls == [
        ("mount", "/dev/null", "/proc/kcore", None, MS_BIND),
        ("mount", "tmpfs", "/proc/acpi", "tmpfs", MS_RDONLY),
    ]
