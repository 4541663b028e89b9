"""Pure parts of update (flags -> resources) and of the seccomp profile conversion."""

from __future__ import annotations

import io

import pytest

from dockyard.runtime.seccomp_profile import ProfileError, default_profile, to_oci
from dockyard.runtime.update import UpdateError, ram_in_bytes, resources_from_flags


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("64m", 64 << 20),
        ("1g", 1 << 30),
        ("512", 512),
        ("-1", -1),
        ("2kb", 2048),
        ("1.5m", 1572864),
    ],
)
def test_ram_in_bytes(text, value):
    assert ram_in_bytes(text) == value


def test_ram_in_bytes_refuses_garbage():
    with pytest.raises(UpdateError):
        ram_in_bytes("lots")


def test_flags_override_resources_file():
    flags = {"resources": "-", "memory": "128m", "cpu-share": "256", "pids-limit": "9"}
    res = resources_from_flags(flags, io.StringIO('{"memory": {"limit": 1, "swap": 5}}'))
    assert res == {
        "memory": {"limit": 128 << 20, "swap": 5},
        "cpu": {"shares": 256},
        "pids": {"limit": 9},
    }


def _names(section: dict, action: str) -> set[str]:
    return {n for r in section["syscalls"] if r["action"] == action and not r.get("args")
            for n in r["names"]}  # fmt: skip


def test_default_profile_gates_by_capability():
    plain = to_oci(default_profile(), ["CAP_CHOWN"], machine="x86_64", kernel="6.1.0")
    admin = to_oci(default_profile(), ["CAP_SYS_ADMIN"], machine="x86_64", kernel="6.1.0")
    assert plain["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert plain["defaultAction"] == "SCMP_ACT_ERRNO" and plain["defaultErrnoRet"] == 1
    assert "mount" not in _names(plain, "SCMP_ACT_ALLOW")
    assert "mount" in _names(admin, "SCMP_ACT_ALLOW")
    for always_denied in ("keyctl", "add_key", "request_key", "userfaultfd", "kexec_load"):
        assert always_denied not in _names(admin, "SCMP_ACT_ALLOW")
    # clone3 -> ENOSYS and clone with a namespace mask only without CAP_SYS_ADMIN
    assert any(r["names"] == ["clone3"] and r.get("errnoRet") == 38 for r in plain["syscalls"])
    assert not any(r["names"] == ["clone3"] for r in admin["syscalls"])
    assert "read" in _names(plain, "SCMP_ACT_ALLOW") and "ptrace" in _names(plain, "SCMP_ACT_ALLOW")


def test_profile_includes_excludes_arch_and_kernel():
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["a"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["arm64"]}},
            {"names": ["b"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64"]}},
            {"names": ["c"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "7.0"}},
            {"names": ["d"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "4.8"}},
            {"name": "e", "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_KILL"]}},
        ],
    }
    out = to_oci(profile, ["CAP_KILL"], machine="x86_64", kernel="6.1.0-13-amd64")
    assert [r["names"] for r in out["syscalls"]] == [["d"]]


def test_profile_architectures_and_archmap_conflict():
    with pytest.raises(ProfileError):
        to_oci({"architectures": ["SCMP_ARCH_X86"], "archMap": [{}]}, [])
