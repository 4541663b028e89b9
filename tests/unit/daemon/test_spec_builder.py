"""The pure OCI spec builder, field by field: the same typed inputs give the same spec."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest

from dockyard.api.errors import InvalidParameter, SystemError_
from dockyard.daemon.services import ocispec
from dockyard.daemon.services.spec_builder import build_spec, spec_hostname
from dockyard.daemon.services.spec_inputs import (
    HostDevice,
    HostFacts,
    Joins,
    SecurityDefaults,
    SpecMounts,
    User,
)

CID = "0123456789abcdef"
KNOWN = tuple(ocispec.DEFAULT_CAPS) + ("CAP_NET_ADMIN", "CAP_SYS_ADMIN")
FUSE = HostDevice("c", 10, 229, 0o666, 0, 0)
PROFILE = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}
DEFAULTS = SecurityDefaults(PROFILE, {"nofile": (1024, 2048)})
BOB = User(1000, 100, [10], "/home/bob")
NO_MOUNTS, NO_JOINS = SpecMounts(), Joins()


@dataclass(frozen=True)
class Sandbox:
    netns: str | None = None
    hostname: str | None = None
    env: tuple[str, ...] = ()


def spec(
    hc: dict[str, Any] | None = None,
    cfg: dict[str, Any] | None = None,
    *,
    sandbox: Sandbox = Sandbox(),
    mounts: SpecMounts = NO_MOUNTS,
    joins: Joins = NO_JOINS,
    defaults: SecurityDefaults = DEFAULTS,
    user: User = BOB,
) -> dict[str, Any]:
    hc = hc or {}
    host = HostFacts(
        user, KNOWN, {"/dev/fuse": FUSE}, (("/dev/fuse", FUSE),) if hc.get("Privileged") else ()
    )
    return build_spec(
        cid=CID, command=["sh", "-c", "x"], config=cfg or {}, host_config=hc, rootfs="/r",
        sandbox=sandbox, mounts=mounts, host=host, joins=joins, defaults=defaults,
    )  # fmt: skip


def test_pure_same_inputs_same_spec_inputs_untouched() -> None:
    hc = {"GroupAdd": ["7"], "ShmSize": 1 << 20, "Devices": [{"PathOnHost": "/dev/fuse"}]}
    cfg = {"Env": ["A=1"], "Tty": True}
    user = User(0, 0, [10])
    before = copy.deepcopy((hc, cfg, user))
    first = spec(hc, cfg, user=user)
    assert json.dumps(first) == json.dumps(spec(hc, cfg, user=user))
    assert (hc, cfg, user) == before  # no input edited (GroupAdd once extended User's list)


def test_process() -> None:
    p = spec({}, {"Env": ["A=1", "PATH=/x"], "WorkingDir": "/w", "Hostname": "box"})["process"]
    assert p["args"] == ["sh", "-c", "x"]
    assert p["cwd"] == "/w"
    assert p["terminal"] is False
    assert p["env"] == ["PATH=/x", "HOSTNAME=box", "A=1"]
    assert spec({})["process"]["cwd"] == "/"
    tty = spec({"ConsoleSize": [24, 80]}, {"Tty": True})["process"]
    assert tty["terminal"] is True and "TERM=xterm" in tty["env"]
    assert tty["consoleSize"] == {"height": 24, "width": 80}
    assert "consoleSize" not in spec({"ConsoleSize": [24, 80]})["process"]  # no tty


def test_init_wraps_command_and_binds_binary() -> None:
    s = spec({"Init": True}, mounts=SpecMounts(init_binary="/usr/bin/tini"))
    assert s["process"]["args"] == ["/sbin/docker-init", "--", "sh", "-c", "x"]
    init = next(m for m in s["mounts"] if m["destination"] == "/sbin/docker-init")
    assert init == {"destination": "/sbin/docker-init", "type": "bind",
                    "source": "/usr/bin/tini", "options": ["rbind", "ro", "nosuid", "nodev"]}  # fmt: skip
    # no init binary on this host: the command as it is
    assert spec({"Init": True})["process"]["args"] == ["sh", "-c", "x"]


def test_user_and_group_add() -> None:
    assert spec({})["process"]["user"] == {"uid": 1000, "gid": 100, "additionalGids": [10]}
    user = spec({"GroupAdd": ["7", "10", "wheel"]})["process"]["user"]
    assert user["additionalGids"] == [10, 7]  # numeric ones, once each


def test_env_sandbox_and_hostname() -> None:
    sb = Sandbox(hostname="other", env=("DB_PORT=tcp://x",))
    s = spec({}, {"Hostname": "mine", "Env": ["B=2"]}, sandbox=sb)
    assert s["hostname"] == "other"
    assert s["process"]["env"] == [ocispec.DEFAULT_PATH, "HOSTNAME=other", "DB_PORT=tcp://x", "B=2"]
    assert spec_hostname({}, Sandbox(), CID) == CID[:12]
    assert spec({})["hostname"] == CID[:12]
    assert "domainname" not in spec({})
    assert spec({}, {"Domainname": "example.org"})["domainname"] == "example.org"


def test_root_and_cgroups_path() -> None:
    s = spec({"ReadonlyRootfs": True})
    assert s["root"] == {"path": "/r", "readonly": True}
    assert s["linux"]["cgroupsPath"] == f"/dockyard/{CID}"
    assert spec({"CgroupParent": "box"})["linux"]["cgroupsPath"] == f"/box/{CID}"
    assert spec({"CgroupParent": "/a/b"})["linux"]["cgroupsPath"] == f"/a/b/{CID}"


def test_capabilities() -> None:
    caps = spec({"CapAdd": ["net_admin"], "CapDrop": ["CHOWN"]})["process"]["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"]
    assert "CAP_NET_ADMIN" in caps["bounding"] and "CAP_CHOWN" not in caps["bounding"]
    assert spec({})["process"]["capabilities"]["bounding"] == ocispec.DEFAULT_CAPS
    assert spec({"Privileged": True})["process"]["capabilities"]["bounding"] == list(KNOWN)
    with pytest.raises(InvalidParameter, match="unknown capability"):
        spec({"CapAdd": ["BOGUS"]})


def test_mounts_in_order() -> None:
    vol = {"destination": "/data", "type": "bind", "source": "/v", "options": ["rbind"]}
    mounts = SpecMounts((("/etc/hosts", "/h/hosts"),), None, (vol,))
    dests = [m["destination"] for m in spec({}, mounts=mounts)["mounts"]]
    assert dests == [m["destination"] for m in ocispec.default_mounts()] + ["/etc/hosts", "/data"]
    hosts = spec({}, mounts=mounts)["mounts"][-2]
    assert hosts == {"destination": "/etc/hosts", "type": "bind", "source": "/h/hosts",
                     "options": ["rbind", "rprivate"]}  # fmt: skip


def test_shm_size_and_shared_shm() -> None:
    def shm(s: dict[str, Any]) -> dict[str, Any]:
        return next(m for m in s["mounts"] if m["destination"] == "/dev/shm")

    assert "size=67108864" in shm(spec({}))["options"]
    sized = shm(spec({"ShmSize": 1 << 20}))["options"]
    assert f"size={1 << 20}" in sized and "size=67108864" not in sized
    shared = shm(spec({"ShmSize": 1 << 20}, joins=Joins(shm_source="/run/shm/x")))
    assert shared == {"destination": "/dev/shm", "type": "bind", "source": "/run/shm/x",
                      "options": ["rbind", "rprivate"]}  # fmt: skip


def test_namespaces() -> None:
    def ns(s: dict[str, Any]) -> list[dict[str, str]]:
        return s["linux"]["namespaces"]

    assert [n["type"] for n in ns(spec({}))] == ["mount", "network", "uts", "pid", "ipc"]
    shared = spec({"PidMode": "host", "IpcMode": "host", "UTSMode": "host"})
    assert [n["type"] for n in ns(shared)] == ["mount", "network"]
    assert "hostname" not in shared
    assert [n["type"] for n in ns(spec({}, sandbox=Sandbox(netns="host")))] == [
        "mount", "uts", "pid", "ipc",
    ]  # fmt: skip
    assert {"type": "network", "path": "/run/netns/x"} in ns(
        spec({}, sandbox=Sandbox(netns="/run/netns/x"))
    )
    joined = ns(spec({}, joins=Joins(pid="/proc/9/ns/pid", ipc="/proc/9/ns/ipc")))
    assert {"type": "pid", "path": "/proc/9/ns/pid"} in joined
    assert {"type": "ipc", "path": "/proc/9/ns/ipc"} in joined
    assert ns(spec({"CgroupnsMode": "private"}))[-1] == {"type": "cgroup"}


def test_user_namespace_remap() -> None:
    remap = SecurityDefaults(userns_remap=(100000, 200000, 65536))
    linux = spec({}, defaults=remap)["linux"]
    assert linux["namespaces"][-1] == {"type": "user"}
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": 200000, "size": 65536}]
    assert "uidMappings" not in spec({"UsernsMode": "host"}, defaults=remap)["linux"]
    with pytest.raises(InvalidParameter, match="privileged mode is incompatible"):
        spec({"Privileged": True}, defaults=remap)


def test_resources() -> None:
    res = spec({
        "Memory": 64 << 20, "MemoryReservation": 32 << 20, "NanoCpus": 1_500_000_000,
        "CpuShares": 512, "CpusetCpus": "0", "PidsLimit": 10, "BlkioWeight": 300,
    })["linux"]["resources"]  # fmt: skip
    assert res["memory"] == {"limit": 64 << 20, "swap": 128 << 20, "reservation": 32 << 20}
    assert res["cpu"] == {"shares": 512, "period": 100000, "quota": 150000, "cpus": "0"}
    assert res["pids"] == {"limit": 10}
    assert res["blockIO"] == {"weight": 300}
    assert set(spec({})["linux"]["resources"]) == {"devices"}


def test_devices() -> None:
    rules = spec({})["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 136, "access": "rwm"} in rules
    assert "devices" not in spec({})["linux"]
    s = spec({
        "Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/f",
                     "CgroupPermissions": "r"}],
        "DeviceCgroupRules": ["c 42:* rm"],
    })  # fmt: skip
    assert s["linux"]["devices"] == [{"path": "/dev/f", "type": "c", "major": 10, "minor": 229,
                                      "fileMode": 0o20666, "uid": 0, "gid": 0}]  # fmt: skip
    rules = s["linux"]["resources"]["devices"]
    assert rules[-2:] == [
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "r"},
        {"allow": True, "type": "c", "major": 42, "access": "rm"},
    ]
    with pytest.raises(InvalidParameter, match="invalid device cgroup format"):
        spec({"DeviceCgroupRules": ["x 1:2 q"]})


def test_privileged() -> None:
    s = spec({"Privileged": True})
    assert s["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert s["linux"]["devices"][0]["path"] == "/dev/fuse"
    assert s["linux"]["maskedPaths"] == [] and s["linux"]["readonlyPaths"] == []
    for m in s["mounts"]:
        if m["type"] in ("sysfs", "cgroup"):
            assert "ro" not in m["options"] and "rw" in m["options"]
    assert "seccomp" not in s["linux"]


def test_masked_and_readonly_paths() -> None:
    linux = spec({})["linux"]
    assert linux["maskedPaths"] == ocispec.MASKED_PATHS
    assert linux["readonlyPaths"] == ocispec.READONLY_PATHS
    given = spec({"MaskedPaths": ["/proc/x"], "ReadonlyPaths": []})["linux"]
    assert (given["maskedPaths"], given["readonlyPaths"]) == (["/proc/x"], [])
    unconfined = spec({"SecurityOpt": ["systempaths=unconfined"]})["linux"]
    assert (unconfined["maskedPaths"], unconfined["readonlyPaths"]) == ([], [])


def test_sysctls_and_rlimits() -> None:
    assert spec({"Sysctls": {"kernel.shmmax": "1"}})["linux"]["sysctl"] == {"kernel.shmmax": "1"}
    assert "sysctl" not in spec({})["linux"]
    assert spec({})["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}]
    own = spec({"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20},
                            {"Name": "core", "Soft": 0, "Hard": 0}]})  # fmt: skip
    assert own["process"]["rlimits"] == [
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20},
    ]
    assert "rlimits" not in spec({}, defaults=SecurityDefaults())["process"]
    assert spec({"OomScoreAdj": 300})["process"]["oomScoreAdj"] == 300


def test_seccomp_apparmor_no_new_privileges() -> None:
    assert spec({})["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "seccomp" not in spec({}, defaults=SecurityDefaults())["linux"]  # daemon: unconfined
    assert "seccomp" not in spec({"SecurityOpt": ["seccomp=unconfined"]})["linux"]
    custom = spec({"SecurityOpt": ['seccomp={"defaultAction": "SCMP_ACT_LOG"}']})
    assert custom["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_LOG"
    with pytest.raises(InvalidParameter, match="decoding seccomp profile failed"):
        spec({"SecurityOpt": ["seccomp={not json"]})
    assert spec({})["process"]["noNewPrivileges"] is False
    assert spec({"SecurityOpt": ["no-new-privileges"]})["process"]["noNewPrivileges"] is True
    assert spec({"SecurityOpt": ["no-new-privileges:true"]})["process"]["noNewPrivileges"] is True
    # apparmor: no such LSM on this kernel; accepted as dockerd does, nothing in the spec
    assert spec({"SecurityOpt": ["apparmor=docker-default"]}) == spec({})
    with pytest.raises(InvalidParameter, match='invalid --security-opt 2: "bogus=1"'):
        spec({"SecurityOpt": ["bogus=1"]})


def test_device_requests_refused() -> None:
    with pytest.raises(SystemError_, match='could not select device driver "" with capabilities'):
        spec({"DeviceRequests": [{"Driver": "", "Capabilities": [["gpu"]]}]})
