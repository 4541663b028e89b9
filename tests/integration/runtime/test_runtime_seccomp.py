"""Seccomp under runc and dockyard-runtime, on the same bundles: Docker's default profile
(as the daemon converts it for the default capabilities), a profile with argument rules,
errnoRet and a kill action, and no_new_privs ordering. The static probe (see
tests/integration/security/probe.c) reports each syscall's errno from inside."""

from __future__ import annotations

import os
import shutil

import pytest

from dockyard.daemon.services.ocispec import DEFAULT_CAPS
from dockyard.runtime.seccomp_profile import default_profile, to_oci
from tests.integration.security.conftest import build_probe

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]

CALLS = (
    "getpid unshare mount keyctl add_key request_key personality personality0 clone_newns "
    "clone3 vsock init_module finit_module sethostname setns chroot userfaultfd "
    "io_uring_setup umount2 pivot_root reboot"
)
STATUS = "grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status"


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    return build_probe(tmp_path_factory.mktemp("probe") / "probe")


def _docker_caps(config: dict, caps: list[str]) -> None:
    config["process"]["capabilities"] = {
        k: list(caps) for k in ("bounding", "effective", "permitted")
    }
    config["process"]["noNewPrivileges"] = False


def _same(runtimes, bundle, probe, script: str) -> dict:
    shutil.copy(probe, bundle.rootfs / "bin" / "probe")
    bundle.write(["sh", "-c", script])
    results = {}
    for runtime in runtimes:
        r = runtime.run(bundle.path)
        results[runtime.name] = (r.returncode, r.stdout.decode())
    assert results["dockyard"] == results["runc"], results
    return results


def test_docker_default_profile(runtimes, bundle, probe):
    _docker_caps(bundle.config, DEFAULT_CAPS)
    bundle.config["linux"]["seccomp"] = to_oci(default_profile(), DEFAULT_CAPS)
    out = _same(runtimes, bundle, probe, f"{STATUS}; probe {CALLS}; unshare -u true; echo $?")
    text = out["runc"][1]
    assert "Seccomp:\t2" in text and "keyctl=EPERM" in text and "clone3=ENOSYS" in text


def test_default_profile_with_sys_admin(runtimes, bundle, probe):
    caps = [*DEFAULT_CAPS, "CAP_SYS_ADMIN"]
    _docker_caps(bundle.config, caps)
    bundle.config["linux"]["seccomp"] = to_oci(default_profile(), caps)
    out = _same(runtimes, bundle, probe, f"probe {CALLS}")
    assert "mount=ok" in out["runc"][1] and "keyctl=EPERM" in out["runc"][1]


def test_no_new_privileges_late_load(runtimes, bundle, probe):
    _docker_caps(bundle.config, DEFAULT_CAPS)
    bundle.config["process"]["noNewPrivileges"] = True
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["linux"]["seccomp"] = to_oci(default_profile(), DEFAULT_CAPS)
    out = _same(runtimes, bundle, probe, f"{STATUS}; id; probe {CALLS}")
    assert "NoNewPrivs:\t1" in out["runc"][1]


def test_args_errno_and_kill(runtimes, bundle, probe):
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28},
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 0x0040000, "op": "SCMP_CMP_EQ"}],
            },
            {
                "names": ["socket"],
                "action": "SCMP_ACT_ERRNO",
                "args": [
                    {"index": 0, "value": 40, "op": "SCMP_CMP_EQ"},
                    {"index": 0, "value": 10, "op": "SCMP_CMP_EQ"},
                ],
            },
            {"names": ["sethostname"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["no_such_syscall_at_all"], "action": "SCMP_ACT_ERRNO"},
        ],
    }
    out = _same(
        runtimes, bundle, probe,
        "mkdir /tmp/d; probe personality personality0 vsock getpid; probe sethostname; echo $?",
    )  # fmt: skip
    text = out["runc"][1]
    assert "personality=EPERM" in text and "personality0=ok" in text and "vsock=EPERM" in text
    assert text.strip().endswith("159")  # killed by SIGSYS


def test_unconfined_status(runtimes, bundle, probe):
    bundle.config["linux"].pop("seccomp", None)
    _same(runtimes, bundle, probe, f"{STATUS}; probe keyctl")


def test_compiled_filter_is_cached(dockyard, bundle, probe):
    """The second container with the same section loads the cached BPF: same behaviour,
    one cache entry, root-only."""
    shutil.copy(probe, bundle.rootfs / "bin" / "probe")
    _docker_caps(bundle.config, DEFAULT_CAPS)
    bundle.config["linux"]["seccomp"] = to_oci(default_profile(), DEFAULT_CAPS)
    bundle.write(["sh", "-c", f"{STATUS}; probe {CALLS}"])
    first = dockyard.run(bundle.path)
    second = dockyard.run(bundle.path)
    assert first.returncode == 0 and (first.stdout, first.returncode) == (second.stdout, 0)
    cache = dockyard.root / "seccomp"
    assert len(list(cache.iterdir())) == 1 and cache.stat().st_mode & 0o077 == 0
    assert b"keyctl=EPERM" in second.stdout
