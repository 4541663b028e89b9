"""`run`/`create` flags as their POST /containers/create body (pure).

Mirrors the docker CLI 28.2 (`cli/command/container/opts.go` and the `opts` package)
in four modules: the values pflag checks as it parses (runvalues.py, shared with
`update`), the flag table (runflags.py), the specs that need the whole set
(runspecs.py), and here the mapping to Config, HostConfig and NetworkingConfig, key
for key as the docker CLI's JSON (the Go client's own edits included: capabilities
upper-cased and sorted, KernelMemory and Config.MacAddress dropped on API >= 1.44).
Checks that need the whole set raise ValueError with docker's text, printed as
`dockyard: ...`.
"""

from __future__ import annotations

from dockyard.cli.network import kv_list
from dockyard.cli.runflags import CONTAINER_FLAGS, RUN_ONLY_FLAGS, pull_flag, windows_only_flag
from dockyard.cli.runspecs import (
    _CDI,
    _binds_and_volumes,
    _check_mac,
    _env,
    _exposed,
    _health,
    _normalize_caps,
    _standard_notation,
    networking_config,
    parse_device,
    parse_kv_file,
    parse_port_specs,
    parse_restart_policy,
    parse_security_opts,
)
from dockyard.cli.runvalues import (
    _fullmatch,
    go_int,
    go_quote,
    is_loopback,
    mount,
    nano_cpus,
    validate_pull,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# What callers reach through this module (the body builder is its own).
__all__ = [
    "CONTAINER_FLAGS",
    "RUN_ONLY_FLAGS",
    "build_create_body",
    "go_int",
    "is_loopback",
    "mount",
    "nano_cpus",
    "parse_device",
    "parse_platform",
    "parse_port_specs",
    "pull_flag",
    "validate_pull",
    "windows_only_flag",
]


def build_create_body(opts: dict[str, Any], image: str, command: list[str]) -> dict[str, Any]:
    """The POST /containers/create body for run/create flags, as docker 28.2 sends it
    (`run -d` attaches nothing)."""
    changed = opts.get("_changed", set())
    attach = opts["attach"]
    attach_stdin = "stdin" in attach or opts["interactive"]
    attach_stdout = "stdout" in attach or not attach
    attach_stderr = "stderr" in attach or not attach
    if opts["mac_address"]:
        _check_mac(opts["mac_address"])
    swappiness = opts["memory_swappiness"]
    if swappiness != -1 and not 0 <= swappiness <= 100:
        raise ValueError(f"invalid value: {swappiness}. Valid memory swappiness range is 0-100")
    binds, volumes = _binds_and_volumes(opts["volume"])
    tmpfs = {}
    for item in opts["tmpfs"]:
        path, _, options = item.partition(":")
        tmpfs[path] = options
    entrypoint = None
    if opts["entrypoint"]:
        entrypoint = [opts["entrypoint"]]
    elif "entrypoint" in changed:
        entrypoint = [""]
    exposed, bindings = parse_port_specs(_standard_notation(opts["publish"]))
    _exposed(opts["expose"], exposed)
    devices, cdi = [], []
    for device in opts["device"]:
        if _fullmatch(_CDI, device):
            cdi.append(device)
        else:
            devices.append(parse_device(device))
    env = _env(opts)
    labels: list[str] = []
    for path in opts["label_file"]:
        labels += parse_kv_file(path, None)
    labels += opts["label"]
    pid = opts["pid"]
    if not (pid in ("", "host") or (pid.startswith("container:") and pid[10:])):
        raise ValueError("--pid: invalid PID mode")
    if opts["uts"] not in ("", "host"):
        raise ValueError("--uts: invalid UTS mode")
    if opts["userns"] not in ("", "host"):
        raise ValueError("--userns: invalid USER mode")
    if opts["cgroupns"] not in ("", "host", "private"):
        raise ValueError("--cgroupns: invalid CGROUP mode")
    restart = parse_restart_policy(opts["restart"])
    log_opts = kv_list(opts["log_opt"])
    if opts["log_driver"] == "none" and opts["log_opt"]:
        raise ValueError(f"invalid logging opts for driver {opts['log_driver']}")
    security, system_paths = parse_security_opts(opts["security_opt"])
    storage = {}
    for item in opts["storage_opt"]:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError("invalid storage option")
        storage[key] = value
    health = _health(opts)
    requests = list(opts["gpus"])
    if cdi:
        requests.append({"Driver": "cdi", "Count": 0, "DeviceIDs": cdi,
                         "Capabilities": None, "Options": None})  # fmt: skip
    networks = opts["network"]
    network_mode = networks[0]["Target"] if networks else "default"
    host_config: dict[str, Any] = {
        "Binds": binds,
        "ContainerIDFile": opts["cidfile"],
        "LogConfig": {"Type": opts["log_driver"], "Config": log_opts},
        "NetworkMode": network_mode,
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "AutoRemove": opts["rm"],
        "VolumeDriver": opts["volume_driver"],
        "VolumesFrom": opts["volumes_from"] or None,
        "ConsoleSize": [0, 0],
        "CapAdd": _normalize_caps(opts["cap_add"]),
        "CapDrop": _normalize_caps(opts["cap_drop"]),
        "CgroupnsMode": opts["cgroupns"],
        "Dns": opts["dns"],
        "DnsOptions": opts["dns_option"],
        "DnsSearch": opts["dns_search"],
        "ExtraHosts": opts["add_host"] or None,
        "GroupAdd": opts["group_add"] or None,
        "IpcMode": opts["ipc"],
        "Cgroup": "",
        "Links": opts["link"] or None,
        "OomScoreAdj": opts["oom_score_adj"],
        "PidMode": pid,
        "Privileged": opts["privileged"],
        "PublishAllPorts": opts["publish_all"],
        "ReadonlyRootfs": opts["read_only"],
        "SecurityOpt": security,
        "UTSMode": opts["uts"],
        "UsernsMode": opts["userns"],
        "ShmSize": opts["shm_size"],
        "Isolation": opts["isolation"],
        "CpuShares": opts["cpu_shares"],
        "Memory": opts["memory"],
        "NanoCpus": opts["cpus"],
        "CgroupParent": opts["cgroup_parent"],
        "BlkioWeight": opts["blkio_weight"],
        "BlkioWeightDevice": opts["blkio_weight_device"],
        "BlkioDeviceReadBps": opts["device_read_bps"],
        "BlkioDeviceWriteBps": opts["device_write_bps"],
        "BlkioDeviceReadIOps": opts["device_read_iops"],
        "BlkioDeviceWriteIOps": opts["device_write_iops"],
        "CpuPeriod": opts["cpu_period"],
        "CpuQuota": opts["cpu_quota"],
        "CpuRealtimePeriod": opts["cpu_rt_period"],
        "CpuRealtimeRuntime": opts["cpu_rt_runtime"],
        "CpusetCpus": opts["cpuset_cpus"],
        "CpusetMems": opts["cpuset_mems"],
        "Devices": devices,
        "DeviceCgroupRules": opts["device_cgroup_rule"] or None,
        "DeviceRequests": requests or None,
        "MemoryReservation": opts["memory_reservation"],
        "MemorySwap": opts["memory_swap"],
        "MemorySwappiness": swappiness,
        "OomKillDisable": opts["oom_kill_disable"],
        "PidsLimit": opts["pids_limit"],
        "Ulimits": sorted({u["Name"]: u for u in opts["ulimit"]}.values(), key=lambda u: u["Name"]),
        "CpuCount": opts["cpu_count"],
        "CpuPercent": opts["cpu_percent"],
        "IOMaximumIOps": opts["io_maxiops"],
        "IOMaximumBandwidth": opts["io_maxbandwidth"],
        "MaskedPaths": system_paths,
        "ReadonlyPaths": system_paths,
    }
    for key, value in (
        ("Annotations", kv_list(opts["annotation"])),
        ("StorageOpt", storage),
        ("Tmpfs", tmpfs),
        ("Sysctls", kv_list(opts["sysctl"])),
        ("Runtime", opts["runtime"]),
        ("Mounts", opts["mount"]),
    ):
        if value:
            host_config[key] = value
    if opts["rm"] and restart["Name"] not in ("", "no"):
        raise ValueError("conflicting options: cannot specify both --restart and --rm")
    if "init" in changed:
        host_config["Init"] = opts["init"]
    if opts.get("detach"):
        attach_stdin = attach_stdout = attach_stderr = False
    body: dict[str, Any] = {
        "Hostname": opts["hostname"],
        "Domainname": opts["domainname"],
        "User": opts["user"],
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
    }
    if exposed:
        body["ExposedPorts"] = exposed
    body |= {
        "Tty": opts["tty"],
        "OpenStdin": opts["interactive"],
        "StdinOnce": opts["interactive"] and attach_stdin,
        "Env": env,
        "Cmd": command or None,
    }
    if health is not None:
        body["Healthcheck"] = health
    body |= {
        "Image": image,
        "Volumes": volumes,
        "WorkingDir": opts["workdir"],
        "Entrypoint": entrypoint,
        "OnBuild": None,
        "Labels": kv_list(labels),
    }
    if opts["stop_signal"]:
        body["StopSignal"] = opts["stop_signal"]
    if "stop_timeout" in changed:
        body["StopTimeout"] = opts["stop_timeout"]
    body["HostConfig"] = host_config
    body["NetworkingConfig"] = networking_config(opts)
    return body


_ARCHES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
           "armel": "arm", "i386": "386", "i686": "386"}  # fmt: skip


def parse_platform(text: str) -> str:
    """containerd's platforms.Parse + Format for --platform: `os[/arch[/variant]]`."""
    import platform as host

    parts = text.lower().split("/")
    if len(parts) > 3:
        raise ValueError(
            f"error parsing specified platform: {go_quote(text)}: "
            "cannot parse platform specifier: invalid argument"
        )
    machine = _ARCHES.get(host.machine().lower(), host.machine().lower())
    if len(parts) == 1:
        word = _ARCHES.get(parts[0], parts[0])
        known_os = ("linux", "windows", "darwin", "freebsd")
        os_name, arch = (word, machine) if word in known_os else ("linux", word)
        variant = ""
    else:
        os_name, arch = parts[0], _ARCHES.get(parts[1], parts[1])
        variant = parts[2] if len(parts) == 3 else ""
    if parts[-1] in ("armhf",):
        variant = variant or "v7"
    if arch == "arm64" and variant == "v8":
        variant = ""
    return "/".join(p for p in (os_name, arch, variant) if p)
