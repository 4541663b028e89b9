"""Docker's swarm objects as the Engine API has them, as JSON-ready dicts, with the
defaults dockerd (swarmkit) fills in. Plain functions: no I/O; `repo` stores them.

Task states go new → pending → assigned → accepted → preparing → starting → running →
complete | failed | shutdown | rejected | orphaned, as swarmkit's `api.TaskState`.
"""

from __future__ import annotations

import copy
import platform
import secrets
from typing import Any

from dockyard.proto.timetypes import rfc3339_nano

TASK_STATES = [
    "new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running",
    "complete", "shutdown", "failed", "rejected", "remove", "orphaned",
]  # fmt: skip
TERMINAL = {"complete", "shutdown", "failed", "rejected", "orphaned", "remove"}
SECOND = 1_000_000_000


def state_index(state: str) -> int:
    return TASK_STATES.index(state) if state in TASK_STATES else 0


def new_id() -> str:
    """A swarmkit identifier: 25 lowercase base-36 digits of a random 128-bit number."""
    n = secrets.randbits(128)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out.rjust(25, "0")


def now() -> str:
    return rfc3339_nano()


def header() -> dict[str, Any]:
    """ID, Version, CreatedAt and UpdatedAt: how every swarm object starts."""
    ts = now()
    return {"ID": new_id(), "Version": {"Index": 0}, "CreatedAt": ts, "UpdatedAt": ts}


def join_token(ca_digest: str) -> str:
    """SWMTKN-1-<the CA's digest, base 36>-<a random secret>, swarmkit's shape."""
    return f"SWMTKN-1-{ca_digest}-{secrets.token_hex(13)[:25]}"


def swarm(spec: dict[str, Any], *, default_addr_pool: list[str], subnet_size: int,
          data_path_port: int, ca_digest: str = "", trust_root: str = "") -> dict[str, Any]:  # fmt: skip
    ca_digest = ca_digest or new_id() + new_id()[:25]
    return {
        **header(),
        "Spec": swarm_spec(spec),
        "TLSInfo": {"TrustRoot": trust_root, "CertIssuerSubject": "", "CertIssuerPublicKey": ""},
        "RootRotationInProgress": False,
        "DefaultAddrPool": default_addr_pool or ["10.0.0.0/8"],
        "SubnetSize": subnet_size or 24,
        "DataPathPort": data_path_port or 4789,
        "JoinTokens": {"Worker": join_token(ca_digest), "Manager": join_token(ca_digest)},
    }


def swarm_spec(spec: dict[str, Any] | None) -> dict[str, Any]:
    """The spec with swarmkit's defaults where the request left a field out."""
    spec = copy.deepcopy(spec or {})
    out: dict[str, Any] = {
        "Name": spec.get("Name") or "default",
        "Labels": spec.get("Labels") or {},
        "Orchestration": {"TaskHistoryRetentionLimit": 5},
        "Raft": {
            "SnapshotInterval": 10000,
            "KeepOldSnapshots": 0,
            "LogEntriesForSlowFollowers": 500,
            "ElectionTick": 10,
            "HeartbeatTick": 1,
        },  # fmt: skip
        "Dispatcher": {"HeartbeatPeriod": 5 * SECOND},
        "CAConfig": {"NodeCertExpiry": 90 * 24 * 3600 * SECOND},
        "TaskDefaults": {},
        "EncryptionConfig": {"AutoLockManagers": False},
    }
    for section in ("Orchestration", "Raft", "Dispatcher", "CAConfig", "TaskDefaults",
                    "EncryptionConfig"):  # fmt: skip
        given = spec.get(section)
        if isinstance(given, dict):
            # the CLI sends Go's zero values for fields it leaves alone; swarmkit reads a
            # zero tick, interval or expiry as "the default"
            zero_is_default = section in ("Raft", "Dispatcher", "CAConfig")
            out[section].update({k: v for k, v in given.items()
                                 if v is not None and not (zero_is_default and v == 0)})  # fmt: skip
    return out


def node(node_id: str, *, role: str, addr: str, manager_addr: str, hostname: str,
         engine_version: str, ncpu: int, memory: int) -> dict[str, Any]:  # fmt: skip
    ts = now()
    arch = platform.machine()
    out: dict[str, Any] = {
        "ID": node_id,
        "Version": {"Index": 0},
        "CreatedAt": ts,
        "UpdatedAt": ts,
        "Spec": {"Labels": {}, "Role": role, "Availability": "active"},
        "Description": {
            "Hostname": hostname,
            "Platform": {"Architecture": arch, "OS": "linux"},
            "Resources": {"NanoCPUs": ncpu * SECOND, "MemoryBytes": memory},
            "Engine": {
                "EngineVersion": engine_version,
                "Plugins": [
                    {"Type": "Log", "Name": "json-file"},
                    {"Type": "Log", "Name": "local"},
                    {"Type": "Network", "Name": "bridge"},
                    {"Type": "Network", "Name": "host"},
                    {"Type": "Network", "Name": "null"},
                    {"Type": "Volume", "Name": "local"},
                ],  # fmt: skip
            },
            "TLSInfo": {"TrustRoot": "", "CertIssuerSubject": "", "CertIssuerPublicKey": ""},
        },
        "Status": {"State": "ready", "Addr": addr},
    }
    if role == "manager":
        out["ManagerStatus"] = {"Leader": False, "Reachability": "reachable", "Addr": manager_addr}
    return out


def service_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """What dockerd stores of a service spec: the request's, with swarmkit's defaults."""
    spec = copy.deepcopy(spec)
    spec.setdefault("Labels", {})
    tt = spec.setdefault("TaskTemplate", {})
    cs = tt.setdefault("ContainerSpec", {})
    cs.setdefault("Isolation", "default")
    tt.setdefault("ForceUpdate", 0)
    tt.setdefault("Runtime", "container")
    mode = _canonical_mode(spec.get("Mode") or {})
    if not mode:
        mode = {"Replicated": {"Replicas": 1}}
    if "Replicated" in mode:
        mode["Replicated"] = {"Replicas": int((mode["Replicated"] or {}).get("Replicas", 1))}
    spec["Mode"] = mode
    spec.setdefault("EndpointSpec", {"Mode": "vip"})
    return spec


_MODES = {m.lower(): m for m in ("Replicated", "Global", "ReplicatedJob", "GlobalJob")}
_MODE_FIELDS = {f.lower(): f for f in ("Replicas", "MaxConcurrent", "TotalCompletions")}


def _canonical_mode(mode: dict[str, Any]) -> dict[str, Any]:
    """Go's JSON decoding matches field names case-insensitively and docker-py sends
    `{"replicated": {"Replicas": 2}}`: the names as Docker's API spells them."""
    out = {}
    for key, value in mode.items():
        fields = {_MODE_FIELDS.get(k.lower(), k): v for k, v in (value or {}).items()}
        out[_MODES.get(key.lower(), key)] = fields
    return out


def service(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        **header(),
        "Spec": service_spec(spec),
        "Endpoint": {"Spec": copy.deepcopy(spec.get("EndpointSpec") or {"Mode": "vip"})},
    }


def replicas(svc: dict[str, Any]) -> int | None:
    """A replicated service's desired count; None for a global one."""
    mode = svc["Spec"].get("Mode") or {}
    if "Replicated" in mode:
        return int(mode["Replicated"].get("Replicas", 1))
    if "ReplicatedJob" in mode:  # every completion its own slot
        job = mode["ReplicatedJob"] or {}
        return int(job.get("TotalCompletions") or job.get("MaxConcurrent") or 1)
    return None


def max_concurrent(svc: dict[str, Any]) -> int | None:
    """How many tasks of a replicated job may run at once (None: no limit, also for a job
    without MaxConcurrent; the CLI sends TotalCompletions when --max-concurrent is not
    given, as the API says TotalCompletions defaults to MaxConcurrent)."""
    job = (svc["Spec"].get("Mode") or {}).get("ReplicatedJob")
    if job is None or not job.get("MaxConcurrent"):
        return None
    return int(job["MaxConcurrent"])


def is_job(svc: dict[str, Any]) -> bool:
    """replicated-job and global-job: tasks that complete are done, never restarted."""
    mode = svc["Spec"].get("Mode") or {}
    return "ReplicatedJob" in mode or "GlobalJob" in mode


def task(svc: dict[str, Any], slot: int, node_id: str = "") -> dict[str, Any]:
    """A new task of `svc` for `slot` (replicated) or `node_id` (global): swarmkit's shape."""
    h = header()
    ts = h["CreatedAt"]
    return {
        **h,
        "Labels": {},
        "Spec": copy.deepcopy(svc["Spec"].get("TaskTemplate") or {}),
        "ServiceID": svc["ID"],
        "Slot": slot,
        "NodeID": node_id,
        "Status": {"Timestamp": ts, "State": "new", "Message": "created", "PortStatus": {}},
        "DesiredState": "running",
        "SpecVersion": {"Index": svc["Version"]["Index"]},
    }


def task_status(state: str, message: str, *, err: str = "", container_id: str = "",
                pid: int = 0, exit_code: int | None = None) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {"Timestamp": now(), "State": state, "Message": message, "PortStatus": {}}
    if err:
        out["Err"] = err
    if container_id:
        out["ContainerStatus"] = {
            "ContainerID": container_id,
            "PID": pid,
            "ExitCode": exit_code or 0,
        }
    return out


def secret(spec: dict[str, Any], *, keep_data: bool) -> dict[str, Any]:
    """A secret (keep_data=False: its Data is never shown) or a config (shown)."""
    shown = {k: v for k, v in spec.items() if keep_data or k != "Data"}
    shown.setdefault("Labels", {})
    return {**header(), "Spec": shown}
