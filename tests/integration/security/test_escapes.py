"""Escape attempts from containers started through dockyardd with the docker CLI: each
must fail, and the host must be unchanged afterwards."""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX_PATH, Daemon
from tests.integration.security.conftest import probe_results

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]


def sh(daemon: Daemon, image: str, script: str, *flags: str):
    return daemon.docker("run", "--rm", "--network", "none", *flags, image, "sh", "-c", script)


def test_sysrq_trigger_read_only(daemon, probe_image):
    r = sh(daemon, probe_image, "echo h > /proc/sysrq-trigger; echo rc=$?")
    assert "rc=1" in r.stdout
    if os.path.exists("/proc/sysrq-trigger"):  # this host's kernel may not have it
        assert "Read-only file system" in r.stderr


def test_mount_denied(daemon, probe_image):
    r = sh(
        daemon,
        probe_image,
        "mount -t tmpfs none /mnt; echo rc=$?; mount -o remount,rw /sys; echo rc=$?",
    )
    assert r.stdout.split() == ["rc=1", "rc=1"], (r.stdout, r.stderr)
    assert r.stderr.count("permission denied") == 2


def test_unshare_denied(daemon, probe_image):
    r = sh(daemon, probe_image, "unshare -m -u -n true; echo rc=$?; probe unshare setns")
    assert "rc=1" in r.stdout
    got = probe_results(r.stdout)
    assert got["unshare"] == "EPERM" and got["setns"] == "EPERM"


def test_kernel_module_denied(daemon, probe_image):
    r = sh(
        daemon, probe_image, "probe init_module finit_module; insmod /nonexistent.ko; echo rc=$?"
    )
    got = probe_results(r.stdout)
    assert got["init_module"] == "EPERM" and got["finit_module"] == "EPERM"
    assert "rc=0" not in r.stdout


def test_kcore_and_masked_proc(daemon, probe_image):
    r = sh(daemon, probe_image, "cat /proc/kcore 2>/dev/null | wc -c; wc -c < /proc/timer_list")
    assert r.stdout.split() == ["0", "0"], (r.stdout, r.stderr)
    with open("/proc/timer_list", "rb") as f:
        assert f.read(1)  # non-empty on the host: the container's is masked, not missing


def _sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_proc_self_exe_overwrite_during_exec(daemon, probe_image):
    """CVE-2019-5736 class: the container makes the binary `docker exec` runs a
    `#!/proc/self/exe` script, so that the runtime's own binary is executed inside,
    while a watcher tries to open every process's /proc/PID/exe for writing."""
    host_files = {p: _sha(p) for p in {os.path.realpath(sys.executable), sys.executable}}
    host_files.update(
        {str(p): _sha(str(p)) for p in Path(sys.executable).parent.glob("dockyard-*")}
    )
    name = f"dysec-exe-{uuid.uuid4().hex[:8]}"
    watcher = (
        "printf '#!/proc/self/exe\\n' > /bin/evil; chmod +x /bin/evil;"
        " while :; do for p in /proc/[0-9]*; do"
        ' e=$(readlink $p/exe 2>/dev/null); [ -n "$e" ] && echo "$e" >> /tmp/seen;'
        ' (echo pwned >> $p/exe) 2>/dev/null && echo "WROTE $e" >> /tmp/wrote;'
        " done; done"
    )
    r = daemon.docker(
        "run", "-d", "--network", "none", "--name", name, probe_image, "sh", "-c", watcher
    )
    assert r.returncode == 0, r.stderr
    try:
        for _ in range(3):
            daemon.docker("exec", name, "/bin/evil")
            time.sleep(0.3)
        seen = daemon.docker(
            "exec", name, "sh", "-c", "sort -u /tmp/seen; cat /tmp/wrote 2>/dev/null"
        )
        assert "WROTE" not in seen.stdout, seen.stdout
    finally:
        daemon.docker("rm", "-f", name)
    assert {p: _sha(p) for p in host_files} == host_files


# A script that the host's interpreter would run, if /proc/self/exe named it at exec.
_EVIL = '#!/proc/self/exe -S\\nimport time\\nprint("host interpreter ran", flush=True)\\ntime.sleep(4)\\n'
_WATCH = (
    "end=$(( $(date +%s) + 3 )); while [ $(date +%s) -lt $end ]; do"
    " for p in /proc/[0-9]*; do [ $p = /proc/$$ ] && continue;"
    " sha256sum $p/exe 2>/dev/null; (echo pwned >> $p/exe) 2>/dev/null && echo WROTE $p;"
    " done; done | sort -u"
)


def test_proc_self_exe_never_names_the_host_interpreter(daemon, host_python_image):
    """CVE-2019-5736 class, with an image that carries the host interpreter's loader and
    libraries: a `#!/proc/self/exe` program, run as the container's command or by
    `docker exec`, must not run the host's binary, and a watcher reading every
    /proc/PID/exe must never see it (nor write any)."""
    host_exe = _sha(os.path.realpath(sys.executable))
    name = f"dysec-hostpy-{uuid.uuid4().hex[:8]}"
    setup = f"printf '{_EVIL}' > /bin/evil; chmod +x /bin/evil; touch /tmp/ok; sleep 120"
    r = daemon.docker("run", "-d", "--network", "none", "--name", name, host_python_image,
                      "sh", "-c", setup)  # fmt: skip
    assert r.returncode == 0, r.stderr
    try:
        deadline = time.monotonic() + 20
        while daemon.docker("exec", name, "test", "-e", "/tmp/ok").returncode != 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        r = daemon.docker("exec", name, "/bin/evil")
        assert "host interpreter ran" not in r.stdout and r.returncode != 0, (r.stdout, r.stderr)
        assert daemon.docker("exec", "-d", name, "/bin/evil").returncode == 0
        seen = daemon.docker("exec", name, "sh", "-c", _WATCH).stdout
        assert host_exe not in seen and "WROTE" not in seen, seen
        # the container's own command (the init's exec) the same way
        r = daemon.docker("commit", name, name + "-img")
        assert r.returncode == 0, r.stderr
        r = daemon.docker("run", "--rm", "--network", "none", name + "-img", "/bin/evil")
        assert "host interpreter ran" not in r.stdout and r.returncode != 0, (r.stdout, r.stderr)
    finally:
        daemon.docker("rm", "-f", name)
        daemon.docker("rmi", "-f", name + "-img")


def _symlink_image(daemon: Daemon, base_tar: Path, target: Path, tmp_path: Path) -> str:
    tar = tmp_path / "symlinks.tar"
    with tarfile.open(base_tar) as src, tarfile.open(tar, "w") as dst:
        for member in src.getmembers():
            if member.name.lstrip("./") in ("etc/hostname", "etc/hosts", "etc/resolv.conf"):
                continue
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        for name, link in (
            ("etc/hostname", str(target / "hostname")),  # absolute, to the host's path
            ("etc/hosts", "../../../../../../.." + str(target / "hosts")),  # relative, climbing
            ("etc/resolv.conf", "/proc/self/root" + str(target / "resolv.conf")),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, link
            dst.addfile(info)
    image = f"dysec-links:{uuid.uuid4().hex[:8]}"
    r = daemon.docker(
        "import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}", str(tar), image
    )
    assert r.returncode == 0, r.stderr
    return image


def test_symlinked_mount_destinations_stay_inside(daemon, busybox_rootfs_tar, tmp_path):
    target = tmp_path / "host-target"
    target.mkdir()
    for n in ("hostname", "hosts", "resolv.conf"):
        (target / n).write_text("host file\n")
    image = _symlink_image(daemon, busybox_rootfs_tar, target, tmp_path)
    try:
        r = sh(
            daemon, image, "cat /etc/hostname; grep -c localhost /etc/hosts", "--hostname", "inside"
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.split()[0] == "inside"
    finally:
        daemon.docker("rmi", "-f", image)
    for n in ("hostname", "hosts", "resolv.conf"):
        assert (target / n).read_text() == "host file\n"
    with open("/proc/self/mountinfo") as f:
        assert str(target) not in f.read()


def test_no_leaked_fds(daemon, probe_image):
    """CVE-2024-21626 class: nothing but stdio reaches the process, in run and in exec,
    and a working directory through /proc/self/fd/N cannot point outside the root."""
    r = sh(daemon, probe_image, "ls /proc/$$/fd; true")  # `; true`: sh must not exec ls
    assert r.stdout.split() == ["0", "1", "2"], r.stdout
    name = f"dysec-fd-{uuid.uuid4().hex[:8]}"
    assert (
        daemon.docker(
            "run", "-d", "--network", "none", "--name", name, probe_image, "sleep", "60"
        ).returncode
        == 0
    )
    try:
        r = daemon.docker("exec", name, "sh", "-c", "ls /proc/$$/fd; true")
        assert r.stdout.split() == ["0", "1", "2"], r.stdout
    finally:
        daemon.docker("rm", "-f", name)
    for n in range(3, 10):
        r = sh(daemon, probe_image, "pwd -P; ls", "-w", f"/proc/self/fd/{n}")
        if r.returncode == 0:  # only a directory inside the container may be reached
            assert r.stdout.startswith("/"), r.stdout
            assert "bin" not in r.stdout.split() or r.stdout.split()[0] == "/", r.stdout
