"""The `run`/`create` flag table, as docker CLI 28.2 declares it
(`cli/command/container/opts.go`): names, shorts, types, defaults, help, and each
value's parser (runvalues.py). Pure data and small constructors.
"""

from __future__ import annotations

from dockyard.cli.flags import BOOL, DETACH_RUN, INT, INTERACTIVE, LIST, STRING, TTY, Flag
from dockyard.cli.runvalues import (
    _int_flag,
    gpu_request,
    mount,
    nano_cpus,
    network,
    throttle_bps_device,
    throttle_iops_device,
    ulimit,
    validate_attach,
    validate_device_cgroup_rule,
    validate_dns_search,
    validate_env,
    validate_extra_host,
    validate_ip,
    validate_label,
    validate_link,
    validate_sysctl,
    weight_device,
)
from dockyard.proto.timetypes import go_duration
from dockyard.proto.units import mem_swap_bytes, ram_in_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# -- the flag table -------------------------------------------------------------------
_CGROUPNS_HELP = """Cgroup namespace to use (host|private)
'host':    Run the container in the Docker host's cgroup namespace
'private': Run the container in its own private cgroup namespace
'':        Use the cgroup namespace as configured by the
           default-cgroupns-mode option on the daemon (default)"""


def _list(long: str, help: str, short: str = "", convert: Any = None, **kw: Any) -> Flag:
    return Flag(long, short, LIST, help, metavar=kw.pop("metavar", "list"), convert=convert, **kw)


def _str(long: str, help: str, short: str = "", default: Any = None, **kw: Any) -> Flag:
    return Flag(long, short, STRING, help, default, kw.pop("metavar", "string"), **kw)


def _int(long: str, help: str, short: str = "", default: int = 0, bits: int = 64) -> Flag:
    return Flag(long, short, INT, help, default, "int", convert=_int_flag(bits))


def _bytes(long: str, help: str, short: str = "", convert: Any = ram_in_bytes) -> Flag:
    return Flag(long, short, STRING, help, 0, "bytes", convert=convert)


def _duration(long: str, help: str) -> Flag:
    return Flag(long, "", STRING, help, 0, "duration", convert=go_duration)


_DEV_BPS_HELP = "Limit {} rate (bytes per second) {} a device (default [])"
_DEV_IOPS_HELP = "Limit {} rate (IO per second) {} a device (default [])"
CONTAINER_FLAGS = (
    _list("add-host", "Add a custom host-to-IP mapping (host:ip)", convert=validate_extra_host),
    _list(
        "annotation",
        "Add an annotation to the container (passed through to the OCI runtime) (default map[])",
        metavar="map",
    ),
    _list("attach", "Attach to STDIN, STDOUT or STDERR", "a", validate_attach),
    Flag(
        "blkio-weight",
        "",
        INT,
        "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)",
        0,
        "uint16",
        convert=_int_flag(16, unsigned=True),
    ),
    _list(
        "blkio-weight-device",
        "Block IO weight (relative device weight) (default [])",
        convert=weight_device,
    ),  # fmt: skip
    _list("cap-add", "Add Linux capabilities"),
    _list("cap-drop", "Drop Linux capabilities"),
    _str("cgroup-parent", "Optional parent cgroup for the container", default=""),
    _str("cgroupns", _CGROUPNS_HELP, default=""),
    _str("cidfile", "Write the container ID to the file", default=""),
    _int("cpu-count", "CPU count (Windows only)"),
    _int("cpu-percent", "CPU percent (Windows only)"),
    _int("cpu-period", "Limit CPU CFS (Completely Fair Scheduler) period"),
    _int("cpu-quota", "Limit CPU CFS (Completely Fair Scheduler) quota"),
    _int("cpu-rt-period", "Limit CPU real-time period in microseconds"),
    _int("cpu-rt-runtime", "Limit CPU real-time runtime in microseconds"),
    _int("cpu-shares", "CPU shares (relative weight)", "c"),
    Flag("cpus", "", STRING, "Number of CPUs", 0, "decimal", convert=nano_cpus),
    _str("cpuset-cpus", "CPUs in which to allow execution (0-3, 0,1)", default=""),
    _str("cpuset-mems", "MEMs in which to allow execution (0-3, 0,1)", default=""),
    _list("device", "Add a host device to the container"),
    _list(
        "device-cgroup-rule",
        "Add a rule to the cgroup allowed devices list",
        convert=validate_device_cgroup_rule,
    ),  # fmt: skip
    _list("device-read-bps", _DEV_BPS_HELP.format("read", "from"), convert=throttle_bps_device),
    _list("device-read-iops", _DEV_IOPS_HELP.format("read", "from"), convert=throttle_iops_device),
    _list("device-write-bps", _DEV_BPS_HELP.format("write", "to"), convert=throttle_bps_device),
    _list("device-write-iops", _DEV_IOPS_HELP.format("write", "to"), convert=throttle_iops_device),
    Flag("disable-content-trust", "", BOOL, "Skip image verification (default true)", True),
    _list("dns", "Set custom DNS servers", convert=validate_ip),
    _list("dns-opt", "Set DNS options", dest="dns_option", hidden=True),
    _list("dns-option", "Set DNS options"),
    _list("dns-search", "Set custom DNS search domains", convert=validate_dns_search),
    _str("domainname", "Container NIS domain name", default=""),
    _str("entrypoint", "Overwrite the default ENTRYPOINT of the image", default=""),
    _list("env", "Set environment variables", "e", validate_env),
    _list("env-file", "Read in a file of environment variables"),
    _list("expose", "Expose a port or a range of ports"),
    _list(
        "gpus",
        "GPU devices to add to the container ('all' to pass all GPUs)",
        convert=gpu_request,
        metavar="gpu-request",
    ),  # fmt: skip
    _list("group-add", "Add additional groups to join"),
    _str("health-cmd", "Command to run to check health", default=""),
    _duration("health-interval", "Time between running the check (ms|s|m|h) (default 0s)"),
    _int("health-retries", "Consecutive failures needed to report unhealthy"),
    _duration(
        "health-start-interval",
        "Time between running the check during the start period (ms|s|m|h) (default 0s)",
    ),
    _duration(
        "health-start-period",
        "Start period for the container to initialize before starting health-retries "
        "countdown (ms|s|m|h) (default 0s)",
    ),
    _duration("health-timeout", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
    _str("hostname", "Container host name", "h", ""),
    Flag(
        "init",
        "",
        BOOL,
        "Run an init inside the container that forwards signals and reaps processes",
    ),
    INTERACTIVE,
    _bytes("io-maxbandwidth", "Maximum IO bandwidth limit for the system drive (Windows only)"),
    Flag(
        "io-maxiops",
        "",
        INT,
        "Maximum IOps limit for the system drive (Windows only)",
        0,
        "uint",
        convert=_int_flag(64, unsigned=True),
    ),  # fmt: skip
    _str("ip", "IPv4 address (e.g., 172.30.100.104)", default=""),
    _str("ip6", "IPv6 address (e.g., 2001:db8::33)", default=""),
    _str("ipc", "IPC mode to use", default=""),
    _str("isolation", "Container isolation technology", default=""),
    _bytes("kernel-memory", "Kernel memory limit"),
    _list("label", "Set meta data on a container", "l", validate_label),
    _list("label-file", "Read in a line delimited file of labels"),
    _list("link", "Add link to another container", convert=validate_link),
    _list("link-local-ip", "Container IPv4/IPv6 link-local addresses"),
    _str("log-driver", "Logging driver for the container", default=""),
    _list("log-opt", "Log driver options"),
    _str("mac-address", "Container MAC address (e.g., 92:d0:c6:0a:29:33)", default=""),
    _bytes("memory", "Memory limit", "m"),
    _bytes("memory-reservation", "Memory soft limit"),
    _bytes(
        "memory-swap",
        "Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
        convert=mem_swap_bytes,
    ),  # fmt: skip
    _int("memory-swappiness", "Tune container memory swappiness (0 to 100) (default -1)", "", -1),
    _list("mount", "Attach a filesystem mount to the container", convert=mount, metavar="mount"),
    _str("name", "Assign a name to the container", default=""),
    _list(
        "net",
        "Connect a container to a network",
        convert=network,
        dest="network",
        hidden=True,
        metavar="network",
    ),  # fmt: skip
    _list(
        "net-alias", "Add network-scoped alias for the container", dest="network_alias", hidden=True
    ),  # fmt: skip
    _list("network", "Connect a container to a network", convert=network, metavar="network"),
    _list("network-alias", "Add network-scoped alias for the container"),
    Flag("no-healthcheck", "", BOOL, "Disable any container-specified HEALTHCHECK"),
    Flag("oom-kill-disable", "", BOOL, "Disable OOM Killer"),
    _int("oom-score-adj", "Tune host's OOM preferences (-1000 to 1000)"),
    _str("pid", "PID namespace to use", default=""),
    _int("pids-limit", "Tune container pids limit (set -1 for unlimited)"),
    _str("platform", "Set platform if server is multi-platform capable", default=""),
    Flag("privileged", "", BOOL, "Give extended privileges to this container"),
    _list("publish", "Publish a container's port(s) to the host", "p"),
    Flag("publish-all", "P", BOOL, "Publish all exposed ports to random ports"),
    Flag("quiet", "q", BOOL, "Suppress the pull output"),
    Flag("read-only", "", BOOL, "Mount the container's root filesystem as read only"),
    _str("restart", 'Restart policy to apply when a container exits (default "no")', default="no"),
    Flag(
        "rm",
        "",
        BOOL,
        "Automatically remove the container and its associated anonymous volumes when it exits",
    ),  # fmt: skip
    _str("runtime", "Runtime to use for this container", default=""),
    _list("security-opt", "Security Options"),
    _bytes("shm-size", "Size of /dev/shm"),
    _str("stop-signal", "Signal to stop the container", default=""),
    _int("stop-timeout", "Timeout (in seconds) to stop a container"),
    _list("storage-opt", "Storage driver options for the container"),
    _list("sysctl", "Sysctl options (default map[])", convert=validate_sysctl, metavar="map"),
    _list("tmpfs", "Mount a tmpfs directory"),
    TTY,
    _list("ulimit", "Ulimit options (default [])", convert=ulimit, metavar="ulimit"),
    Flag("use-api-socket", "", BOOL, "Bind mount Docker API socket and required auth"),
    _str("user", "Username or UID (format: <name|uid>[:<group|gid>])", "u", ""),
    _str("userns", "User namespace to use", default=""),
    _str("uts", "UTS namespace to use", default=""),
    _list("volume", "Bind mount a volume", "v"),
    _str("volume-driver", "Optional volume driver for the container", default=""),
    _list("volumes-from", "Mount volumes from the specified container(s)"),
    _str("workdir", "Working directory inside the container", "w", ""),
)
RUN_ONLY_FLAGS = (
    DETACH_RUN,
    _str("detach-keys", "Override the key sequence for detaching a container", default=""),
    Flag("sig-proxy", "", BOOL, "Proxy received signals to the process (default true)", True),
)


def pull_flag(verb: str) -> Flag:
    """--pull; `create`'s help has docker's stray "|" in it."""
    choices = (
        '"always", "missing", "never"' if verb == "running" else '"always", "|missing", "never"'
    )
    return _str(
        "pull", f'Pull image before {verb} ({choices}) (default "missing")', default="missing"
    )


WINDOWS_ONLY = ("cpu_count", "cpu_percent", "io_maxbandwidth", "io_maxiops")


def windows_only_flag(changed: set[str]) -> str | None:
    """docker's check of flags annotated ostype=windows against a Linux daemon."""
    for dest in WINDOWS_ONLY:
        if dest in changed:
            name = dest.replace("_", "-")
            return (
                f'"--{name}" is only supported on a Docker daemon running on windows, '
                "but the Docker daemon is running on linux"
            )
    return None
