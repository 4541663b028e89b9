from __future__ import annotations

import pytest

from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services import ocispec

IMAGE = {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Entrypoint": None, "WorkingDir": "/w"}


def test_user_cmd_replaces_image_cmd() -> None:
    cfg = ocispec.merge_config({"Cmd": ["echo", "hi"]}, IMAGE)
    assert ocispec.command_line(cfg) == ["echo", "hi"]
    assert cfg["WorkingDir"] == "/w"


def test_image_cmd_used_when_none_given() -> None:
    assert ocispec.command_line(ocispec.merge_config({}, IMAGE)) == ["sh"]


def test_user_entrypoint_drops_image_cmd() -> None:
    cfg = ocispec.merge_config({"Entrypoint": ["echo"]}, IMAGE)
    assert ocispec.command_line(cfg) == ["echo"]


def test_image_entrypoint_with_user_cmd() -> None:
    cfg = ocispec.merge_config({"Cmd": ["-c", "x"]}, {**IMAGE, "Entrypoint": ["sh"]})
    assert ocispec.command_line(cfg) == ["sh", "-c", "x"]


def test_empty_entrypoint_resets() -> None:
    cfg = ocispec.merge_config({"Entrypoint": [""], "Cmd": ["ls"]}, {**IMAGE, "Entrypoint": ["x"]})
    assert ocispec.command_line(cfg) == ["ls"]


def test_no_command() -> None:
    with pytest.raises(InvalidParameter, match="No command specified"):
        ocispec.command_line(ocispec.merge_config({}, {}))


def test_env_merge_overrides_by_key() -> None:
    # moby's merge: the user's list as given, then the image's variables it lacks
    cfg = ocispec.merge_config({"Env": ["A=2", "B=3"]}, IMAGE)
    assert cfg["Env"] == ["A=2", "B=3", "PATH=/bin"]  # (the image's A=1 is overridden)
    assert ocispec.merge_config({"Env": ["PATH=/x"]}, IMAGE)["Env"] == ["PATH=/x", "A=1"]
    assert ocispec.merge_config({}, IMAGE)["Env"] == ["PATH=/bin", "A=1"]
    env = ocispec.process_env(cfg, "h", tty=True)
    assert sorted(env) == sorted(["PATH=/bin", "HOSTNAME=h", "TERM=xterm", "A=2", "B=3"])


PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nbob:x:1000:1000::/home/bob:/bin/sh\n"
GROUP = "root:x:0:\nwheel:x:10:root,bob\nstaff:x:50:bob\nbob:x:1000:\n"


@pytest.mark.parametrize(
    "spec, uid, gid, extra",
    [
        ("", 0, 0, [10]),
        ("root", 0, 0, [10]),
        ("nobody", 65534, 65534, []),
        ("bob", 1000, 1000, [10, 50]),
        ("bob:staff", 1000, 50, [10]),
        ("1234", 1234, 0, []),
        ("1000:7", 1000, 7, [10, 50]),
    ],
)
def test_resolve_user(spec: str, uid: int, gid: int, extra: list[int]) -> None:
    u = ocispec.resolve_user(spec, PASSWD, GROUP)
    assert (u.uid, u.gid, u.additional_gids) == (uid, gid, extra)


def test_unknown_user_message() -> None:
    with pytest.raises(InvalidParameter, match="unable to find user nosuch: no matching entries"):
        ocispec.resolve_user("nosuch", PASSWD, GROUP)


def test_capabilities_default_add_drop() -> None:
    assert ocispec._capabilities(False, [], []) == ocispec.DEFAULT_CAPS
    caps = ocispec._capabilities(False, ["NET_ADMIN"], ["chown"])
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps
    assert ocispec._capabilities(False, [], ["ALL"]) == []
    assert "CAP_SYS_ADMIN" in ocispec._capabilities(True, [], [])
    with pytest.raises(InvalidParameter):
        ocispec._capabilities(False, ["NOPE"], [])


def test_spec_has_docker_defaults() -> None:
    spec = ocispec.build_spec(
        args=["sh"],
        env=[],
        cwd="/",
        user=ocispec.User(0, 0),
        hostname="h",
        rootfs="/r",
        tty=False,
        read_only=False,
        extra_mounts=[],
        cgroups_path="/x",
    )
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests[:2] == ["/proc", "/dev"] and "/dev/shm" in dests
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    assert {n["type"] for n in spec["linux"]["namespaces"]} == {
        "mount",
        "network",
        "uts",
        "pid",
        "ipc",
    }


# ---- HostConfig -> spec (security options and resources) ----------------------------------


def _spec(**hc) -> dict:
    user = ocispec.User(0, 0)
    spec = ocispec.build_spec(
        args=["sh"], env=[], cwd="/", user=user, hostname="h", rootfs="/r", tty=False,
        read_only=False, extra_mounts=[], cgroups_path="/dockyard/x",
        privileged=bool(hc.get("Privileged")), cap_add=hc.get("CapAdd"), cap_drop=hc.get("CapDrop"),
    )  # fmt: skip
    defaults = ocispec.SecurityDefaults(
        seccomp_profile={"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []},
        default_ulimits={"nofile": (1024, 2048)},
    )
    fake_dev = ocispec.HostDevice("c", 10, 229, 0o666, 0, 0)
    return ocispec.apply_host_config(
        spec,
        hc,
        defaults,
        stat_device=lambda p: fake_dev,
        host_devices=lambda: [("/dev/fuse", fake_dev)],
    )


def test_default_security() -> None:
    spec = _spec()
    assert spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert spec["process"]["noNewPrivileges"] is False
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}]
    rules = spec["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 136, "access": "rwm"} in rules
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    assert any(
        m["destination"] == "/sys/fs/cgroup" and "ro" in m["options"] for m in spec["mounts"]
    )


def test_privileged_and_unconfined() -> None:
    spec = _spec(Privileged=True)
    assert "seccomp" not in spec["linux"]
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert spec["linux"]["devices"][0]["path"] == "/dev/fuse"
    assert spec["linux"]["maskedPaths"] == []
    sysfs = next(m for m in spec["mounts"] if m["type"] == "sysfs")
    assert "ro" not in sysfs["options"]
    assert "seccomp" not in _spec(SecurityOpt=["seccomp=unconfined"])["linux"]


def test_security_opts() -> None:
    assert _spec(SecurityOpt=["no-new-privileges"])["process"]["noNewPrivileges"] is True
    assert _spec(SecurityOpt=["no-new-privileges:true"])["process"]["noNewPrivileges"] is True
    custom = _spec(SecurityOpt=['seccomp={"defaultAction": "SCMP_ACT_LOG"}'])
    assert custom["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_LOG"
    with pytest.raises(InvalidParameter, match='invalid --security-opt 2: "bogus=1"'):
        _spec(SecurityOpt=["bogus=1"])
    with pytest.raises(InvalidParameter, match="decoding seccomp profile failed"):
        _spec(SecurityOpt=["seccomp={not json"])


def test_resources() -> None:
    spec = _spec(
        Memory=64 << 20, MemoryReservation=32 << 20, NanoCpus=1_500_000_000, CpuShares=512,
        CpusetCpus="0", PidsLimit=10, Ulimits=[{"Name": "nofile", "Soft": 10, "Hard": 20}],
        OomScoreAdj=300, ShmSize=1 << 20, Sysctls={"kernel.shmmax": "1"},
        Devices=[{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/f", "CgroupPermissions": "r"}],
        DeviceCgroupRules=["c 42:* rm"],
    )  # fmt: skip
    res = spec["linux"]["resources"]
    assert res["memory"] == {"limit": 64 << 20, "swap": 128 << 20, "reservation": 32 << 20}
    assert res["cpu"] == {"shares": 512, "period": 100000, "quota": 150000, "cpus": "0"}
    assert res["pids"] == {"limit": 10}
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]
    assert spec["process"]["oomScoreAdj"] == 300
    shm = next(m for m in spec["mounts"] if m["destination"] == "/dev/shm")
    assert f"size={1 << 20}" in shm["options"]
    assert spec["linux"]["sysctl"] == {"kernel.shmmax": "1"}
    assert spec["linux"]["devices"][0]["path"] == "/dev/f"
    assert {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "r"} in res["devices"]
    assert {"allow": True, "type": "c", "major": 42, "access": "rm"} in res["devices"]


def test_userns_remap() -> None:
    spec = ocispec.apply_host_config(
        _spec(), {}, ocispec.SecurityDefaults(userns_remap=(100000, 200000, 65536))
    )
    assert {"type": "user"} in spec["linux"]["namespaces"]
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]


@pytest.mark.parametrize(
    ("hc", "message"),
    [
        ({"Memory": 1024}, "Minimum memory limit allowed is 6MB"),
        ({"MemorySwap": 1 << 30}, "You should always set the Memory limit"),
        ({"Memory": 64 << 20, "MemorySwap": 32 << 20}, "Minimum memoryswap limit"),
        ({"NanoCpus": 10**9, "CpuQuota": 1000}, "Nano CPUs and CPU Quota"),
        ({"OomScoreAdj": 5000}, "range for oom score adj"),
        ({"Sysctls": {"kernel.hostname": "x"}}, "is not whitelisted"),
        ({"Sysctls": {"net.ipv4.ip_forward": "1"}, "NetworkMode": "host"}, "host network"),
        ({"Ulimits": [{"Name": "bogus"}]}, "invalid ulimit type"),
        ({"CpusetCpus": "0-999"}, "Requested CPUs are not available - requested 0-999"),
        ({"CpusetCpus": "x"}, "Invalid value x for cpuset cpus"),
    ],
)
def test_validate_host_config(hc, message) -> None:
    with pytest.raises(InvalidParameter, match=message):
        ocispec.validate_host_config(hc)


def test_parse_ulimit() -> None:
    assert ocispec.parse_ulimit("nofile=10:20") == ("nofile", 10, 20)
    assert ocispec.parse_ulimit("nproc=5") == ("nproc", 5, 5)
    with pytest.raises(InvalidParameter, match="soft limit must be less"):
        ocispec.parse_ulimit("nofile=20:10")


def test_parse_cpuset() -> None:
    assert ocispec.parse_cpuset("0-2,5") == {0, 1, 2, 5}
