"""dockerd's `--userns-remap`, `--default-ulimit` and `--seccomp-profile` on a daemon of its
own: containers run in a user namespace mapped to dockremap's subordinate range, the rootfs
fits the mapping (chown-on-copy), the daemon's ulimits and seccomp profile are the defaults.
/etc/subuid and /etc/subgid get a dockremap line for the test and are restored after."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX_PATH, kill_leftovers, start_daemon, stop_daemon

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]

BASE, SIZE = 231072, 65536


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def subids():
    """/etc/subuid and /etc/subgid restored after; a dockremap user the daemon made removed."""
    saved = {}
    had_user = _has_user("dockremap")
    for path in ("/etc/subuid", "/etc/subgid"):
        p = Path(path)
        saved[p] = p.read_bytes() if p.exists() else None
    try:
        yield saved
    finally:
        if not had_user and _has_user("dockremap"):
            subprocess.run(["userdel", "dockremap"], capture_output=True)
            subprocess.run(["groupdel", "dockremap"], capture_output=True)
        for p, content in saved.items():
            if content is None:
                p.unlink(missing_ok=True)
            else:
                p.write_bytes(content)


@pytest.fixture
def dockremap_ranges(subids):
    for p, content in subids.items():
        p.write_bytes((content or b"") + f"dockremap:{BASE}:{SIZE}\n".encode())


@pytest.fixture
def remapped_daemon(dockremap_ranges, session_tmp, busybox_rootfs_tar):
    root = session_tmp / f"remap-{uuid.uuid4().hex[:8]}"
    root.mkdir(mode=0o711)
    os.chmod(session_tmp, 0o711)  # the remapped root must be able to reach the rootfs
    profile = root / "profile.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }))  # fmt: skip
    d = start_daemon(
        root,
        ["--userns-remap", "default", "--default-ulimit", "nofile=321:654",
         "--seccomp-profile", str(profile)],
    )  # fmt: skip
    try:
        r = d.docker("import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                     str(busybox_rootfs_tar), "busybox:latest")  # fmt: skip
        assert r.returncode == 0, r.stderr
        yield d
    finally:
        ids = d.docker("ps", "-aq", timeout=20).stdout.split()
        if ids:
            d.docker("rm", "-f", *ids, timeout=60)
        stop_daemon(d)
        kill_leftovers(root)


def test_userns_remap(remapped_daemon):
    d = remapped_daemon
    name = f"dysec-remap-{uuid.uuid4().hex[:8]}"
    r = d.docker(
        "run", "--network", "none", "--name", name, "busybox", "sh", "-c",
        "id; cat /proc/self/uid_map /proc/self/gid_map; stat -c '%u:%g' / /bin/busybox;"
        " touch /newfile && echo wrote; sleep 2",
    )  # fmt: skip
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("uid=0(root) gid=0(root)")
    assert lines[1].split() == ["0", str(BASE), str(SIZE)]
    assert lines[2].split() == ["0", str(BASE), str(SIZE)]
    assert lines[3:5] == ["0:0", "0:0"]  # the image's root-owned files are root's inside
    assert "wrote" in lines
    # from the host, the container's root is the unprivileged base uid
    r = d.docker("run", "-d", "--network", "none", "busybox", "sleep", "30")
    cid = r.stdout.strip()
    pid = d.docker("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip()
    with open(f"/proc/{pid}/status") as f:
        uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
    assert uids == [str(BASE)] * 4
    # --userns=host opts out
    r = d.docker("run", "--rm", "--network", "none", "--userns", "host", "busybox",
                 "cat", "/proc/self/uid_map")  # fmt: skip
    assert r.stdout.split() == ["0", "0", "4294967295"]


def test_daemon_default_ulimit_and_seccomp_profile(remapped_daemon):
    d = remapped_daemon
    r = d.docker("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                 "ulimit -n; ulimit -Hn; mkdir /tmp/x; echo rc=$?")  # fmt: skip
    assert r.stdout.split() == ["321", "654", "rc=1"], (r.stdout, r.stderr)
    assert "Operation not permitted" in r.stderr
    r = d.docker("run", "--rm", "--network", "none", "--ulimit", "nofile=50:60",
                 "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c",
                 "ulimit -n; mkdir /tmp/x && echo made")  # fmt: skip
    assert r.stdout.split() == ["50", "made"], (r.stdout, r.stderr)


@pytest.mark.skipif(_has_user("dockremap"), reason="the dockremap user exists already")
def test_userns_remap_default_makes_dockremap(subids, session_tmp, busybox_rootfs_tar):
    """dockerd creates the user and its subordinate ranges when they are missing."""
    for p in subids:
        p.write_bytes(b"")
    root = session_tmp / f"remap-{uuid.uuid4().hex[:8]}"
    root.mkdir(mode=0o711)
    os.chmod(session_tmp, 0o711)
    d = start_daemon(root, ["--userns-remap", "default"])
    try:
        assert _has_user("dockremap")
        for p in subids:
            assert p.read_text() == "dockremap:100000:65536\n"
        r = d.docker("import", "-c", f"ENV PATH={BUSYBOX_PATH}", str(busybox_rootfs_tar),
                     "busybox:latest")  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = d.docker("run", "--rm", "--network", "none", "busybox", "cat", "/proc/self/uid_map")
        assert r.returncode == 0, r.stderr + d.log_path.read_text()
        assert r.stdout.split() == ["0", "100000", "65536"]
    finally:
        stop_daemon(d)
        kill_leftovers(root)


def test_remapped_containers_on_bridge_and_user_networks(remapped_daemon):
    d = remapped_daemon
    r = d.docker("run", "--rm", "busybox", "cat", "/proc/self/uid_map")
    assert r.returncode == 0, r.stderr
    net = f"remap-{uuid.uuid4().hex[:8]}"
    d.docker("network", "create", net, check=True)
    try:
        r = d.docker("run", "--rm", "--network", net, "busybox", "ip", "-o", "addr", "show", "eth0")
        assert r.returncode == 0, r.stderr
        assert "inet " in r.stdout
    finally:
        d.docker("network", "rm", net)
