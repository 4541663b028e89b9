"""Docker's security and resource flags, through the official docker CLI against dockyardd,
each checked from inside the container (its /proc/self/status, cgroup files, limits)."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.conftest import Daemon
from tests.integration.security.conftest import probe_results, status_field

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]

DEFAULT_CAPS_HEX = "00000000a80425fb"  # Docker's 14 default capabilities
STATUS = "cat /proc/self/status"
DENIED = ["unshare", "mount", "keyctl", "add_key", "request_key", "init_module", "clone_newns"]


def run(daemon: Daemon, image: str, *args: str, ok: bool = True) -> str:
    # --network none: these tests are about the runtime, not the network layer
    r = daemon.docker("run", "--rm", "--network", "none", *args[:-1], image, "sh", "-c", args[-1])
    if ok:
        assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout + r.stderr


def all_caps_hex() -> str:
    """Every capability the daemon has (its bounding set is this test's)."""
    with open("/proc/self/status") as f:
        return status_field(f.read(), "CapBnd")


def test_defaults_like_docker(daemon, probe_image):
    out = run(daemon, probe_image, f"{STATUS}; probe {' '.join(DENIED)} getpid chroot")
    assert status_field(out, "Seccomp") == "2"
    assert status_field(out, "CapEff") == DEFAULT_CAPS_HEX
    assert status_field(out, "CapBnd") == DEFAULT_CAPS_HEX
    assert status_field(out, "NoNewPrivs") == "0"
    got = probe_results(out)
    assert {k: got[k] for k in DENIED} == dict.fromkeys(DENIED, "EPERM")
    assert got["getpid"] == "ok" and got["chroot"] == "ok"


def test_seccomp_unconfined(daemon, probe_image):
    out = run(
        daemon, probe_image, "--security-opt", "seccomp=unconfined", f"{STATUS}; probe keyctl"
    )
    assert status_field(out, "Seccomp") == "0"
    assert probe_results(out)["keyctl"] == "ok"


def test_seccomp_profile_file(daemon, probe_image, tmp_path):
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
    }
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    out = run(
        daemon, probe_image, "--security-opt", f"seccomp={path}",
        "mkdir /tmp/x; echo rc=$?; probe keyctl",
    )  # fmt: skip
    assert "Permission denied" in out and "rc=1" in out
    assert probe_results(out)["keyctl"] == "ok"  # this profile allows what the default denies


def test_seccomp_follows_capabilities(daemon, probe_image):
    # the default profile allows mount/unshare once CAP_SYS_ADMIN is there, as Docker's does
    out = run(daemon, probe_image, "--cap-add", "SYS_ADMIN", "probe mount unshare keyctl")
    got = probe_results(out)
    assert got["mount"] == "ok" and got["unshare"] == "ok" and got["keyctl"] == "EPERM"


def test_privileged(daemon, probe_image):
    out = run(
        daemon, probe_image, "--privileged",
        f"{STATUS}; probe mount; grep -q ' /proc/timer_list ' /proc/self/mountinfo || echo unmasked;"
        " ls /dev; grep ' /sys ' /proc/self/mountinfo",
    )  # fmt: skip
    assert status_field(out, "CapEff") == all_caps_hex()
    assert status_field(out, "Seccomp") == "0"
    assert probe_results(out)["mount"] == "ok"
    assert "unmasked" in out
    host_devs = set(os.listdir("/dev"))
    assert "loop-control" in host_devs & set(out.split()) or "mem" in set(out.split())
    assert " rw," in out.splitlines()[-1] or " rw " in out.splitlines()[-1]


def test_cap_add_and_drop(daemon, probe_image):
    out = run(
        daemon, probe_image, "--cap-drop", "CHOWN", "--cap-add", "NET_ADMIN",
        f"{STATUS}; chown 1 /tmp; echo chown=$?",
    )  # fmt: skip
    eff = int(status_field(out, "CapEff"), 16)
    assert not eff & (1 << 0) and eff & (1 << 12)
    assert "chown=1" in out
    out = run(daemon, probe_image, "--cap-drop", "ALL", STATUS)
    assert status_field(out, "CapEff") == "0000000000000000"


def test_no_new_privileges(daemon, probe_image):
    out = run(daemon, probe_image, "--security-opt", "no-new-privileges", f"{STATUS}; probe keyctl")
    assert status_field(out, "NoNewPrivs") == "1"
    assert status_field(out, "Seccomp") == "2"
    assert probe_results(out)["keyctl"] == "EPERM"


def test_read_only(daemon, probe_image):
    out = run(
        daemon, probe_image, "--read-only", "touch /x; echo rc=$?; touch /dev/shm/ok && echo shm"
    )
    assert "Read-only file system" in out and "rc=1" in out and "shm" in out


def test_memory(daemon, probe_image):
    mem = "/sys/fs/cgroup/memory"
    out = run(
        daemon, probe_image, "--memory", "64m", "--memory-reservation", "32m",
        f"cat {mem}/memory.limit_in_bytes {mem}/memory.soft_limit_in_bytes;"
        f" cat {mem}/memory.memsw.limit_in_bytes 2>/dev/null || echo no-swap-accounting",
    )  # fmt: skip
    lines = out.split()
    assert lines[0] == str(64 << 20) and lines[1] == str(32 << 20)
    assert lines[2] in (str(128 << 20), "no-swap-accounting")


def test_memory_swap(daemon, probe_image):
    if not os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"):
        pytest.skip("no swap accounting on this kernel")
    out = run(
        daemon, probe_image, "-m", "64m", "--memory-swap", "96m",
        "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
    )  # fmt: skip
    assert out.split()[0] == str(96 << 20)


def test_memory_too_small_refused(daemon, probe_image):
    r = daemon.docker("run", "--rm", "--network", "none", "-m", "1m", probe_image, "true")
    assert r.returncode != 0 and "Minimum memory limit allowed is 6MB" in r.stderr


def test_cpu(daemon, probe_image):
    cpu = "/sys/fs/cgroup/cpu"
    out = run(
        daemon, probe_image, "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0",
        f"cat {cpu}/cpu.cfs_quota_us {cpu}/cpu.cfs_period_us {cpu}/cpu.shares"
        " /sys/fs/cgroup/cpuset/cpuset.cpus; grep Cpus_allowed_list /proc/self/status",
    )  # fmt: skip
    assert out.split()[:4] == ["50000", "100000", "512", "0"]
    assert status_field(out, "Cpus_allowed_list") == "0"
    out = run(daemon, probe_image, "--cpu-quota", "20000", f"cat {cpu}/cpu.cfs_quota_us")
    assert out.split()[0] == "20000"


def test_pids_limit(daemon, probe_image):
    out = run(
        daemon, probe_image, "--pids-limit", "8",
        "cat /sys/fs/cgroup/pids/pids.max; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done 2>&1;"
        " echo done",
        ok=False,
    )  # fmt: skip
    assert out.split()[0] == "8"
    assert "Resource temporarily unavailable" in out or "can't fork" in out


def test_ulimit(daemon, probe_image):
    out = run(daemon, probe_image, "--ulimit", "nofile=100:200", "--ulimit", "nproc=50",
              "ulimit -n; ulimit -Hn; ulimit -u")  # fmt: skip
    assert out.split() == ["100", "200", "50"]


def test_user(daemon, probe_image):
    out = run(daemon, probe_image, "--user", "1000:1000", "--group-add", "5", f"id; {STATUS}")
    assert "uid=1000 gid=1000" in out and "5" in status_field(out, "Groups").split()
    assert status_field(out, "CapEff") == "0000000000000000"


def test_sysctl(daemon, probe_image):
    out = run(daemon, probe_image, "--sysctl", "kernel.shmmax=12345678",
              "--sysctl", "net.ipv4.ip_forward=1",
              "cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward")  # fmt: skip
    assert out.split() == ["12345678", "1"]
    with open("/proc/sys/kernel/shmmax") as f:
        assert f.read().strip() != "12345678"  # the host's IPC namespace is untouched


def test_device(daemon, probe_image):
    out = run(
        daemon, probe_image, "--device", "/dev/loop-control:/dev/lc:r",
        "ls -l /dev/lc; true < /dev/lc && echo read=ok; true > /dev/lc; echo write=$?",
    )  # fmt: skip
    assert out.startswith("crw") and "10, 237" in out and "read=ok" in out
    assert "write=1" in out and "Operation not permitted" in out


def test_device_cgroup_default_rules(daemon, probe_image):
    # mknod is allowed ('b *:* m'), opening a disk is not: Docker's default rules
    out = run(daemon, probe_image, "mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda; echo rc=$?")
    assert "Operation not permitted" in out and "rc=1" in out


def test_oom_score_adj(daemon, probe_image):
    out = run(daemon, probe_image, "--oom-score-adj", "500", "cat /proc/self/oom_score_adj")
    assert out.split()[0] == "500"


def test_shm_size(daemon, probe_image):
    out = run(daemon, probe_image, "--shm-size", "16m", "df -k /dev/shm | tail -1")
    assert out.split()[1] == "16384"


def test_bad_security_opt_refused(daemon, probe_image):
    r = daemon.docker("create", "--name", f"dysec-{uuid.uuid4().hex[:8]}",
                      "--security-opt", "bogus=1", probe_image)  # fmt: skip
    assert r.returncode != 0 and 'invalid --security-opt 2: "bogus=1"' in r.stderr


def test_unavailable_cpuset_refused(daemon, probe_image):
    r = daemon.docker(
        "run", "--rm", "--network", "none", "--cpuset-cpus", "0-999", probe_image, "true"
    )
    assert r.returncode == 125 and "Requested CPUs are not available - requested 0-999" in r.stderr


def test_exec_gets_the_container_confinement(daemon, probe_image):
    name = f"dysec-exec-{uuid.uuid4().hex[:8]}"
    r = daemon.docker("run", "-d", "--network", "none", "--name", name,
                      "--security-opt", "no-new-privileges", "--cap-drop", "NET_RAW",
                      probe_image, "sleep", "60")  # fmt: skip
    assert r.returncode == 0, r.stderr
    try:
        r = daemon.docker("exec", name, "sh", "-c", f"{STATUS}; probe keyctl unshare")
        assert status_field(r.stdout, "Seccomp") == "2"
        assert status_field(r.stdout, "NoNewPrivs") == "1"
        assert not int(status_field(r.stdout, "CapEff"), 16) & (1 << 13)  # NET_RAW
        assert probe_results(r.stdout)["keyctl"] == "EPERM"
    finally:
        daemon.docker("rm", "-f", name)
