"""Differential tests: the same bundle under runc and dockyard-runtime must look the same
from inside. Each case edits the default config, runs ``run`` (not detached, output
captured from its stdout) under both runtimes and compares exit code and output.

Covered: namespaces (new, user with mappings, cgroup, joined by path), mounts of each
type with their flags and propagation, rootfsPropagation, readonly root, masked and
readonly paths, devices, the five capability sets, rlimits, noNewPrivileges,
oomScoreAdj, umask, additionalGids, seccomp (actions, errnoRet, argument filters),
cgroup limit files, sysctl, hostname, domainname, exit code and signal. Differences
from runc 1.1 (Debian 12's) are tests of their own, each saying why.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]


def _user(uid: int, gid: int, extra: list[int]):
    def edit(config: dict) -> None:
        config["process"]["user"] = {"uid": uid, "gid": gid, "additionalGids": extra}

    return edit


def _set(path: str, value):
    def edit(config: dict) -> None:
        node = config
        keys = path.split(".")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value

    return edit


def _userns(config: dict) -> None:
    config["linux"]["namespaces"].append({"type": "user"})
    mapping = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config["linux"]["uidMappings"] = mapping
    config["linux"]["gidMappings"] = mapping


def _without_namespace(kind: str):
    def edit(config: dict) -> None:
        config["linux"]["namespaces"] = [
            n for n in config["linux"]["namespaces"] if n["type"] != kind
        ]

    return edit


def _cgroupns(config: dict) -> None:
    config["linux"]["namespaces"].append({"type": "cgroup"})


DOCKER_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]  # fmt: skip


def _docker_caps(config: dict) -> None:
    config["process"]["capabilities"] = {
        k: list(DOCKER_CAPS) for k in ("bounding", "effective", "permitted")
    }


def _mount(destination: str, type_: str, source: str, options: list[str]):
    def edit(config: dict) -> None:
        config["mounts"].append(
            {"destination": destination, "type": type_, "source": source, "options": options}
        )

    return edit


def _seccomp(*rules: dict, default: str = "SCMP_ACT_ALLOW"):
    return _set("linux.seccomp", {"defaultAction": default, "syscalls": list(rules)})


def _propagation(text: str) -> str:
    """Mount point and propagation tags (peer group numbers vary) of each mountinfo line."""
    rows = []
    for line in text.splitlines():
        fields = line.partition(" - ")[0].split()
        tags = sorted(f.split(":")[0] for f in fields[6:])
        rows.append(" ".join([fields[4], *tags]))
    return "\n".join(rows)


def _mountinfo(text: str) -> str:
    """Mount point, per-mount options and fs type of each line (ids and devices vary)."""
    rows = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        rows.append(f"{fields[4]} {fields[5]} {right.split()[0]}")
    return "\n".join(rows)


SH = ["sh", "-c"]
ALL_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_NET_RAW",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_SYS_ADMIN",
]

# (case id, args, config edits, output normalizer)
CASES = [
    ("exit-code", SH + ["exit 3"], [], None),
    ("true", ["true"], [], None),
    ("hostname", ["hostname"], [_set("hostname", "dyhost")], None),
    ("id-root", ["id"], [], None),
    ("id-user", ["id"], [_user(1000, 1000, [10, 100])], None),
    ("caps-default", SH + ["grep -E '^(Cap|NoNewPrivs)' /proc/self/status"], [], None),
    (
        "caps-custom-no-nnp",
        SH + ["grep -E '^(Cap|NoNewPrivs)' /proc/self/status"],
        [
            _set(
                "process.capabilities",
                {
                    "bounding": ALL_CAPS,
                    "effective": ALL_CAPS[:3],
                    "permitted": ALL_CAPS[:5],
                    "inheritable": ALL_CAPS[:2],
                    "ambient": ALL_CAPS[:1],
                },
            ),
            _set("process.noNewPrivileges", False),
        ],
        None,
    ),
    (
        "caps-user",
        SH + ["grep -E '^(Cap|NoNewPrivs)' /proc/self/status"],
        [_user(1000, 1000, [])],
        None,
    ),
    ("mountinfo", ["cat", "/proc/self/mountinfo"], [], _mountinfo),
    (
        "mountinfo-writable-root",
        ["cat", "/proc/self/mountinfo"],
        [_set("root.readonly", False)],
        _mountinfo,
    ),
    ("pid-1", SH + ["echo $$"], [], None),
    ("proc-only-own", SH + ["for p in /proc/[0-9]*; do echo $p; done"], [], None),
    ("proc-1-root", SH + ["readlink /proc/1/root; ls /"], [], None),
    ("ulimit", SH + ["ulimit -n; ulimit -Hn"], [], None),
    (
        "ulimit-custom",
        SH + ["ulimit -n; ulimit -Hn"],
        [_set("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512}])],
        None,
    ),
    ("env", ["env"], [_set("process.env", ["PATH=/bin:/usr/bin", "FOO=bar", "HOME=/root"])], None),
    ("env-no-home", ["env"], [_set("process.env", ["PATH=/bin", "A=1"])], None),
    ("env-no-path", SH + ["echo $PATH"], [_set("process.env", [])], None),
    ("cwd-created", ["pwd"], [_set("process.cwd", "/work/missing/dir")], None),
    (
        "masked-paths",
        SH + ["wc -c < /proc/kcore; cat /proc/keys | wc -c; ls -A /proc/acpi /sys/firmware"],
        [],
        None,
    ),
    ("readonly-paths", SH + ["echo x > /proc/sys/kernel/domainname"], [], None),
    ("readonly-root", SH + ["touch /x"], [], None),
    ("loopback", SH + ["ip -o link; cat /sys/class/net/lo/operstate"], [], None),
    ("dev", SH + ["ls -l /dev | cut -c1-10,35-38 ; ls -l /dev | awk '{print $NF}'"], [], None),
    (
        "oom-score-adj",
        ["cat", "/proc/self/oom_score_adj"],
        [_set("process.oomScoreAdj", 500)],
        None,
    ),
    ("no-pdeathsig-fds", ["ls", "/proc/self/fd"], [], None),
    (
        "user-namespace",
        SH
        + ["id; cat /proc/self/uid_map /proc/self/gid_map; ls -ld /; echo > /dev/null && echo ok"],
        [_userns],
        None,
    ),
    ("cgroup-namespace", ["cat", "/proc/self/cgroup"], [_cgroupns], None),
    ("cgroup-namespace-mounts", ["cat", "/proc/self/mountinfo"], [_cgroupns], _mountinfo),
    # security and resources as dockyardd sets them (see daemon/services/ocispec.py)
    (
        "device-cgroup-default-deny",
        SH
        + ["mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda; echo rc=$?; echo > /dev/null && echo ok"],
        [_set("root.readonly", False), _docker_caps],
        None,
    ),
    (
        "linux-devices",
        SH + ["ls -l /dev/mylc | cut -c1-10,35-45; true < /dev/mylc && echo opened"],
        [
            _set(
                "linux.devices",
                [{"path": "/dev/mylc", "type": "c", "major": 10, "minor": 237, "fileMode": 8630}],
            ),
            _set(
                "linux.resources.devices",
                [
                    {"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 10, "minor": 237, "access": "r"},
                ],
            ),
        ],
        None,
    ),
    (
        "sysctl-ipc",
        ["cat", "/proc/sys/kernel/shmmax", "/proc/sys/kernel/msgmax"],
        [_set("linux.sysctl", {"kernel.shmmax": "12345678", "kernel.msgmax": "4096"})],
        None,
    ),
    (
        "no-new-privs-off-user",
        SH + ["grep -E '^(NoNewPrivs|Cap)' /proc/self/status; id"],
        [_set("process.noNewPrivileges", False), _user(1000, 1000, [])],
        None,
    ),
    (
        "seccomp-trap",
        SH + ["uname -s; echo after"],
        [
            _set(
                "linux.seccomp",
                {
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_TRAP"}],
                },
            )
        ],
        None,
    ),
    (
        "seccomp-log-and-errno-default",
        SH + ["grep Seccomp /proc/self/status; chmod 600 /tmp 2>&1; echo rc=$?"],
        [
            _set(
                "linux.seccomp",
                {
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "defaultErrnoRet": 13,
                    "syscalls": [
                        {"names": ["getppid"], "action": "SCMP_ACT_LOG"},
                        {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"},
                    ],
                },
            )
        ],
        None,
    ),
    (
        "resources-memory-pids-cpu",
        SH
        + [
            "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes pids/pids.max"
            " cpu/cpu.cfs_quota_us cpu/cpu.shares"
        ],
        [
            _set(
                "linux.resources",
                {
                    "memory": {"limit": 50331648},
                    "pids": {"limit": 33},
                    "cpu": {"quota": 25000, "period": 100000, "shares": 300},
                },
            )
        ],
        None,
    ),
]


SHARE = "@BUNDLE@/share"  # a host directory made for each test (see test_same_as_runc)
MOUNT_CHECK = "grep ' /mnt ' /proc/self/mountinfo | cut -d' ' -f5,6,9; touch /mnt/new; echo rc=$?"

CASES += [
    # mounts of each type, with their flags, and propagation
    (
        "mount-bind-ro-nosuid-nodev-noexec",
        SH + [MOUNT_CHECK + "; cat /mnt/file"],
        [_mount("/mnt", "bind", SHARE, ["rbind", "ro", "nosuid", "nodev", "noexec"])],
        None,
    ),
    (
        "mount-bind-rw-file",
        SH + ["grep ' /etc/shared ' /proc/self/mountinfo | cut -d' ' -f5,6; cat /etc/shared"],
        [_mount("/etc/shared", "bind", SHARE + "/file", ["bind", "rw"])],
        None,
    ),
    (
        "mount-tmpfs-options",
        SH + [MOUNT_CHECK + "; stat -c %a /mnt; df -k /mnt | tail -1 | tr -s ' ' | cut -d' ' -f2"],
        [_mount("/mnt", "tmpfs", "tmpfs", ["nosuid", "nodev", "noatime", "mode=1750", "size=2m"])],
        None,
    ),
    (
        "mount-tmpfs-readonly",
        SH + [MOUNT_CHECK],
        [_mount("/mnt", "tmpfs", "tmpfs", ["ro", "strictatime", "noexec"])],
        None,
    ),
    (
        "mount-proc-sysfs-mqueue-devpts",
        ["cat", "/proc/self/mountinfo"],
        [
            _mount("/mnt/proc", "proc", "proc", ["nosuid", "noexec"]),
            _mount("/mnt/sys", "sysfs", "sysfs", ["ro", "nosuid"]),
            _mount("/mnt/mq", "mqueue", "mqueue", ["nodev"]),
            _mount("/mnt/pts", "devpts", "devpts", ["newinstance", "ptmxmode=0666", "mode=0600"]),
        ],
        _mountinfo,
    ),
    (
        "mount-propagation-rshared-rslave-private",
        ["cat", "/proc/self/mountinfo"],
        [
            _mount("/mnt/a", "bind", SHARE, ["rbind", "rshared"]),
            _mount("/mnt/b", "bind", SHARE, ["rbind", "rslave"]),
            _mount("/mnt/c", "bind", SHARE, ["rbind", "rprivate"]),
            _mount("/mnt/d", "bind", SHARE, ["rbind", "runbindable"]),
        ],
        _propagation,
    ),
    (
        "rootfs-propagation-private",
        ["cat", "/proc/self/mountinfo"],
        [_set("linux.rootfsPropagation", "private")],
        _propagation,
    ),
    # process: umask, groups, capabilities, limits
    (
        "umask",
        SH + ["umask; touch /dev/shm/f; mkdir /dev/shm/d; stat -c %a /dev/shm/f /dev/shm/d"],
        [_set("process.user.umask", 63)],
        None,
    ),
    ("additional-gids-root", ["id"], [_user(0, 0, [10, 20, 4242])], None),
    (
        "caps-ambient-user",
        SH + ["grep -E '^(Cap|NoNewPrivs)' /proc/self/status; id"],
        [
            _set(
                "process.capabilities",
                {
                    k: ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"]
                    for k in ("bounding", "effective", "permitted", "inheritable", "ambient")
                },
            ),
            _set("process.noNewPrivileges", False),
            _user(1000, 1000, []),
        ],
        None,
    ),
    (
        "rlimits-several",
        SH + ["ulimit -c; ulimit -Hc; ulimit -u; ulimit -s; ulimit -n"],
        [
            _set(
                "process.rlimits",
                [
                    {"type": "RLIMIT_CORE", "soft": 1024, "hard": 4096},
                    {"type": "RLIMIT_NPROC", "soft": 77, "hard": 77},
                    {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608},
                    {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                ],
            )
        ],
        None,
    ),
    # seccomp: errnoRet and argument filters
    (
        "seccomp-errno-ret",
        SH + ["mkdir /dev/shm/d 2>&1; echo rc=$?; ls /dev/shm"],
        [_seccomp({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28})],
        None,
    ),
    (
        "seccomp-arg-eq",
        SH + ["sleep 5 & kill -TERM $!; echo term=$?; kill -KILL $!; echo kill=$?"],
        [
            _seccomp(
                {
                    "names": ["kill"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}],
                }
            )
        ],
        None,
    ),
    (
        "seccomp-arg-masked-eq",
        SH + ["cd /dev/shm; touch f; chmod 666 f 2>&1; chmod 640 f; echo rc=$?; stat -c %a f"],
        [
            # mode & 0o002 == 0o002: making a file world-writable is refused
            _seccomp(
                *(
                    {
                        "names": [name],
                        "action": "SCMP_ACT_ERRNO",
                        "errnoRet": 13,
                        "args": [
                            {"index": i, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}
                        ],
                    }
                    for name, i in (("chmod", 1), ("fchmodat", 2), ("fchmod", 1))
                )
            )
        ],
        None,
    ),
    (
        "seccomp-default-errno-allowlist",
        SH + ["echo hi; uname -m; echo rc=$?"],
        [
            _set(
                "linux.seccomp",
                {
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                    "syscalls": [
                        {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                        {"names": ["no_such_syscall_at_all"], "action": "SCMP_ACT_ERRNO"},
                    ],
                },
            )
        ],
        None,
    ),
    # cgroups, sysctl, namespaces
    (
        "resources-cpuset-memory-reservation-swap",
        SH
        + [
            "cd /sys/fs/cgroup; cat cpuset/cpuset.cpus cpuset/cpuset.mems cpu/cpu.cfs_period_us"
            " memory/memory.soft_limit_in_bytes memory/memory.limit_in_bytes"
            " memory/memory.memsw.limit_in_bytes 2>&1 | sed 's/^cat: //'"
        ],
        [
            _set(
                "linux.resources",
                {
                    "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728},
                    "cpu": {"cpus": "0", "mems": "0", "period": 50000},
                },
            )
        ],
        None,
    ),
    (
        "sysctl-net",
        ["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv4/ping_group_range"],
        [_set("linux.sysctl", {"net.ipv4.ip_forward": "1", "net.ipv4.ping_group_range": "0 0"})],
        None,
    ),
    (
        "user-namespace-two-ranges-nonroot",
        SH + ["id; cat /proc/self/uid_map /proc/self/gid_map; grep ^Cap /proc/self/status"],
        [
            _userns,
            _set(
                "linux.uidMappings",
                [
                    {"containerID": 0, "hostID": 200000, "size": 1000},
                    {"containerID": 1000, "hostID": 300000, "size": 1},
                ],
            ),
            _set("linux.gidMappings", [{"containerID": 0, "hostID": 200000, "size": 2000}]),
            _user(1000, 1000, []),
        ],
        None,
    ),
    ("no-uts-namespace", ["hostname"], [_without_namespace("uts"), _set("hostname", "")], None),
    # exit by signal: the shell kills itself
    # (not as PID 1 of a PID namespace, which only a parent namespace can kill)
    ("exit-signal-term", SH + ["kill -TERM $$"], [_without_namespace("pid")], None),
    ("exit-signal-kill", SH + ["kill -KILL $$"], [_without_namespace("pid")], None),
]


@contextlib.contextmanager
def _traversable(path: Path, needed: bool):
    """o+x on the bundle's ancestors while a user namespace's root (an unmapped host
    uid) must reach the rootfs; modes restored after."""
    saved = []
    try:
        for parent in path.parents if needed else ():
            mode = parent.stat().st_mode
            if not mode & 0o001:
                saved.append((parent, mode))
                parent.chmod((mode & 0o7777) | 0o001)
        yield
    finally:
        for parent, mode in saved:
            parent.chmod(mode & 0o7777)


@pytest.mark.parametrize(
    ("args", "edits", "normalize"),
    [pytest.param(a, e, n, id=name) for name, a, e, n in CASES],
)
def test_same_as_runc(runtimes, bundle, args, edits, normalize):
    share = bundle.path / "share"
    share.mkdir()
    (share / "file").write_text("shared\n")
    for edit in edits:
        edit(bundle.config)
    for m in bundle.config["mounts"]:
        m["source"] = m["source"].replace("@BUNDLE@", str(bundle.path))
    bundle.write(args)
    _assert_same(runtimes, bundle, normalize)


def _assert_same(runtimes, bundle, normalize=None) -> None:
    results = {}
    with _traversable(bundle.path, "uidMappings" in bundle.config["linux"]):
        for runtime in runtimes:
            r = runtime.run(bundle.path)
            out = r.stdout.decode()
            results[runtime.name] = (r.returncode, normalize(out) if normalize else out)
    print(results["runc"])  # shown with -s: what both observed
    assert results["dockyard"] == results["runc"], results


def _join(config: dict, kind: str, path: str) -> None:
    for n in config["linux"]["namespaces"]:
        if n["type"] == kind:
            n["path"] = path


def test_join_network_namespace_by_path(runtimes, bundle):
    """A named netns (``ip netns add``) holding a veth pair, joined by both."""
    name = f"dytest-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(
            ["ip", "-n", name, "link", "add", "dy0", "type", "veth", "peer", "name", "dy1"],
            check=True,
        )
        _join(bundle.config, "network", f"/run/netns/{name}")
        bundle.write(SH + ["ip -o link | cut -d: -f2 | sort; readlink /proc/self/ns/net"])
        _assert_same(runtimes, bundle)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_join_uts_and_ipc_namespaces_by_path(runtimes, bundle):
    """Another process's UTS and IPC namespaces (its hostname, its message queue)."""
    holder = subprocess.Popen(
        [
            "unshare",
            "--uts",
            "--ipc",
            "sh",
            "-c",
            "hostname joined-uts; ipcmk -Q >/dev/null; sleep 60",
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while _in(holder.pid, "-u", "hostname") != "joined-uts\n" or "0x" not in _in(
            holder.pid, "-i", "ipcs", "-q"
        ):
            assert time.monotonic() < deadline, "the namespace holder never got ready"
            time.sleep(0.02)
        config = bundle.config
        _join(config, "uts", f"/proc/{holder.pid}/ns/uts")
        _join(config, "ipc", f"/proc/{holder.pid}/ns/ipc")
        config.pop("hostname", None)
        bundle.write(SH + ["hostname; wc -l < /proc/sysvipc/msg"])
        _assert_same(runtimes, bundle)
    finally:
        holder.kill()
        holder.wait()


def _in(pid: int, namespace: str, *command: str) -> str:
    """A host command's output in one namespace of ``pid``."""
    r = subprocess.run(["nsenter", "-t", str(pid), namespace, *command], capture_output=True)
    return r.stdout.decode()


def test_personality_differs_from_runc_1_1(runtimes, bundle):
    """A listed difference: runc 1.1 (Debian 12's) ignores ``linux.personality`` (runc 1.2
    added it); dockyard-runtime applies it as runc 1.2 does."""
    bundle.config["linux"]["personality"] = {"domain": "LINUX32"}
    bundle.write(["uname", "-m"])
    out = {r.name: r.run(bundle.path).stdout.decode().strip() for r in runtimes}
    assert out == {"runc": "x86_64", "dockyard": "i686"}


def test_seccomp_denying_writes_differs_from_runc_1_1(runtimes, bundle):
    """A listed difference: a filter refusing every open for writing stops runc 1.1 itself,
    which opens exec.fifo for writing after loading the filter (noNewPrivileges); our init
    opens the fifo first and loads the filter just before execve, so the process runs."""
    deny_writes = [
        {
            "names": [name],
            "action": "SCMP_ACT_ERRNO",
            "args": [{"index": index, "value": 3, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}],
        }
        for name, index in (("open", 1), ("openat", 2))
    ]
    _seccomp(*deny_writes)(bundle.config)
    bundle.write(SH + ["head -1 /etc/passwd; echo x > /dev/shm/f; echo rc=$?"])
    out = {
        r.name: (x.returncode, x.stdout.decode()) for r in runtimes for x in [r.run(bundle.path)]
    }
    assert out["runc"] == (1, "")
    assert out["dockyard"] == (0, "root:x:0:0:root:/root:/bin/sh\nrc=1\n")


def test_domainname_differs_from_runc_1_1(runtimes, bundle):
    """A listed difference: runc 1.1 (Debian 12's) ignores ``domainname`` (runc 1.2 added
    it); dockyard-runtime sets it in the new UTS namespace. (This busybox has no
    domainname applet: the kernel's file says it.)"""
    bundle.config["domainname"] = "dy.example"
    bundle.write(SH + ["hostname; cat /proc/sys/kernel/domainname"])
    out = {r.name: r.run(bundle.path).stdout.decode() for r in runtimes}
    assert out == {"runc": "runc\n(none)\n", "dockyard": "runc\ndy.example\n"}


def test_spec_template_is_runcs(tmp_path):
    """``spec`` writes runc's template, masked and read-only paths included (runc's list,
    not Docker's default one: the daemon's is `ocispec.MASKED_PATHS`, with Docker's
    order and its /proc/interrupts and powercap); only the spec version is ours."""
    from tests.integration.runtime.conftest import DOCKYARD_RUNTIME, RUNC

    written = {}
    for name, argv0 in (("runc", RUNC), ("dockyard", DOCKYARD_RUNTIME)):
        where = tmp_path / name
        where.mkdir()
        subprocess.run([argv0, "spec", "--bundle", str(where)], check=True)
        written[name] = json.loads((where / "config.json").read_text())
        written[name].pop("ociVersion")
    assert written["dockyard"] == written["runc"]
