"""Docker's seccomp profile format turned into an OCI ``linux.seccomp`` section (pure).

A Docker profile (``docker run --security-opt seccomp=profile.json`` sends
the file's content) differs from the OCI section in three ways, resolved
here as moby's ``profiles/seccomp`` does: ``archMap`` picks the architectures
for the machine the container runs on, and each rule may be conditional on
``includes``/``excludes`` (capabilities of the container, architectures,
minimum kernel). A profile that is already in OCI form passes through.

``default_profile`` reads ``seccomp_default.json`` shipped in this package:
Docker's default policy written as data (see the file's ``comment``).
"""

from __future__ import annotations

import json
import os
import platform

__all__ = ["default_profile", "to_oci", "ProfileError"]

_DEFAULT = os.path.join(os.path.dirname(__file__), "seccomp_default.json")
_MACHINE_ARCH = {
    "x86_64": "SCMP_ARCH_X86_64",
    "aarch64": "SCMP_ARCH_AARCH64",
    "i686": "SCMP_ARCH_X86",
    "armv7l": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
}
_GOARCH = {
    "SCMP_ARCH_X86_64": "amd64",
    "SCMP_ARCH_X86": "386",
    "SCMP_ARCH_AARCH64": "arm64",
    "SCMP_ARCH_ARM": "arm",
    "SCMP_ARCH_PPC64LE": "ppc64le",
    "SCMP_ARCH_S390X": "s390x",
    "SCMP_ARCH_RISCV64": "riscv64",
}


class ProfileError(ValueError):
    """The profile is not valid JSON or not a seccomp profile."""


def default_profile() -> dict:
    with open(_DEFAULT) as f:
        return json.load(f)


def _kernel_at_least(minimum: str, release: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        out = []
        for p in text.split("-")[0].split(".")[:3]:
            digits = "".join(ch for ch in p if ch.isdigit())
            out.append(int(digits or 0))
        return tuple(out)

    return parts(release) >= parts(minimum)


def parse(text: str) -> dict:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProfileError(f"decoding seccomp profile failed: {e}") from None
    if not isinstance(doc, dict):
        raise ProfileError("decoding seccomp profile failed: not a JSON object")
    return doc


def to_oci(
    profile: dict,
    capabilities: list[str],
    machine: str | None = None,
    kernel: str | None = None,
) -> dict:
    """The OCI section for a container with ``capabilities`` on ``machine``."""
    machine = machine or platform.machine()
    kernel = kernel or platform.release()
    native = _MACHINE_ARCH.get(machine, "")
    if profile.get("architectures") and profile.get("archMap"):
        raise ProfileError(
            "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'"
        )
    arches: list[str] = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            arches = [native, *(entry.get("subArchitectures") or [])]
    goarch = _GOARCH.get(native, machine)
    caps = set(capabilities)
    rules = []
    for rule in profile.get("syscalls") or []:
        names = list(rule.get("names") or [])
        if rule.get("name"):
            names.append(rule["name"])
        inc = rule.get("includes") or {}
        exc = rule.get("excludes") or {}
        if inc.get("arches") and goarch not in inc["arches"]:
            continue
        if exc.get("arches") and goarch in exc["arches"]:
            continue
        if inc.get("caps") and not all(c in caps for c in inc["caps"]):
            continue
        if exc.get("caps") and any(c in caps for c in exc["caps"]):
            continue
        if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"], kernel):
            continue
        out = {"names": names, "action": rule.get("action", "")}
        if rule.get("errnoRet") is not None:
            out["errnoRet"] = rule["errnoRet"]
        if rule.get("args"):
            out["args"] = [
                {k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a}
                for a in rule["args"]
            ]
        rules.append(out)
    section: dict = {"defaultAction": profile.get("defaultAction") or "SCMP_ACT_ERRNO"}
    if profile.get("defaultErrnoRet") is not None:
        section["defaultErrnoRet"] = profile["defaultErrnoRet"]
    if arches:
        section["architectures"] = arches
    if profile.get("flags"):
        section["flags"] = list(profile["flags"])
    section["syscalls"] = rules
    return section
