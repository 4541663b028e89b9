"""Differential tests: the same bundle under runc and dockyard-runtime must look the same
from inside. Each case edits the default config, runs ``run`` (not detached, output
captured from its stdout) under both runtimes and compares exit code and output.
"""

from __future__ import annotations

import os

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
    ("domainname", SH + ["hostname; domainname"], [_set("domainname", "dy.example")], None),
    # security and resources as dockyardd sets them (see daemon/services/ocispec.py)
    (
        "device-cgroup-default-deny",
        SH + ["mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda; echo rc=$?; echo > /dev/null && echo ok"],
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


@pytest.mark.parametrize(
    ("args", "edits", "normalize"),
    [pytest.param(a, e, n, id=name) for name, a, e, n in CASES],
)
def test_same_as_runc(runtimes, bundle, args, edits, normalize):
    for edit in edits:
        edit(bundle.config)
    bundle.write(args)
    results = {}
    for runtime in runtimes:
        r = runtime.run(bundle.path)
        out = r.stdout.decode()
        results[runtime.name] = (r.returncode, normalize(out) if normalize else out)
    assert results["dockyard"] == results["runc"], results


def test_personality_differs_from_runc_1_1(runtimes, bundle):
    """A listed difference: runc 1.1 (Debian 12's) ignores ``linux.personality`` (runc 1.2
    added it); dockyard-runtime applies it as runc 1.2 does."""
    bundle.config["linux"]["personality"] = {"domain": "LINUX32"}
    bundle.write(["uname", "-m"])
    out = {r.name: r.run(bundle.path).stdout.decode().strip() for r in runtimes}
    assert out == {"runc": "x86_64", "dockyard": "i686"}
