"""Linux capabilities by name, and applying ``process.capabilities``.

Order follows runc's ``finalizeNamespace``: drop the bounding set while still
root, keep permitted caps across setuid (``PR_SET_KEEPCAPS``), then ``capset``
effective/permitted/inheritable and raise ambient ones. Unknown or
unavailable names are ignored, as runc does (with a warning there).
"""

from __future__ import annotations

from .syscalls import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAP_AMBIENT_RAISE,
    PR_CAPBSET_DROP,
    Syscall,
)

__all__ = ["CAPABILITIES", "cap_mask", "last_cap", "drop_bounding", "apply_capabilities"]

CAPABILITIES: dict[str, int] = {
    name: number
    for number, name in enumerate(
        (
            "CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL "
            "CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE "
            "CAP_NET_BROADCAST CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER "
            "CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE CAP_SYS_PACCT "
            "CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME "
            "CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL "
            "CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM "
            "CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE"
        ).split()
    )
}


def last_cap() -> int:
    """The highest capability the running kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return max(CAPABILITIES.values())


def cap_mask(names: list[str], last: int) -> int:
    """Names -> bit mask; unknown names and caps beyond ``last`` are skipped."""
    mask = 0
    for name in names:
        number = CAPABILITIES.get(
            name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper()
        )
        if number is not None and number <= last:
            mask |= 1 << number
    return mask


def drop_bounding(sys: Syscall, bounding: list[str], last: int) -> None:
    keep = cap_mask(bounding, last)
    for number in range(last + 1):
        if not keep & (1 << number):
            sys.prctl(PR_CAPBSET_DROP, number)


def apply_capabilities(sys: Syscall, caps, last: int) -> None:
    """capset the three sets, then ambient (each raise may fail: ignored like runc)."""
    sys.capset(
        cap_mask(caps.effective, last),
        cap_mask(caps.permitted, last),
        cap_mask(caps.inheritable, last),
    )
    sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    ambient = cap_mask(caps.ambient, last)
    for number in range(last + 1):
        if ambient & (1 << number):
            try:
                sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, number)
            except OSError:
                pass
