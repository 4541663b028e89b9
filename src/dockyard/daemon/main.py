"""`dockyardd`: the composition root. Every part is built and wired here, explicitly.

Flags follow dockerd's: --data-root, --exec-root, -H/--host unix:///path,
--pidfile, --log-level, -D/--debug, --runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import sys
from pathlib import Path

from aiohttp import web

from dockyard.builder.builder import Builder
from dockyard.builder.cache import BuildCache
from dockyard.cluster.node import ClusterNode, Engine
from dockyard.daemon import config_file, remapuser
from dockyard.daemon.paths import DaemonPaths
from dockyard.daemon.rootmodes import secure_roots
from dockyard.daemon.routers import build as build_router
from dockyard.daemon.routers import commit as commit_router
from dockyard.daemon.routers import container_ops as container_ops_router
from dockyard.daemon.routers import containers as containers_router
from dockyard.daemon.routers import distribution as distribution_router
from dockyard.daemon.routers import exec as exec_router
from dockyard.daemon.routers import images as images_router
from dockyard.daemon.routers import networks as networks_router
from dockyard.daemon.routers import plugins as plugins_router
from dockyard.daemon.routers import swarm as swarm_router
from dockyard.daemon.routers import swarm_logs, swarm_nodes, swarm_secrets, swarm_services
from dockyard.daemon.routers import system as system_router
from dockyard.daemon.routers import system_df as system_df_router
from dockyard.daemon.routers import volumes as volumes_router
from dockyard.daemon.server.app import make_app
from dockyard.daemon.services import spec_host
from dockyard.daemon.services.build import BuildService, tmp_dir
from dockyard.daemon.services.buildsteps import BuildSteps
from dockyard.daemon.services.commit import CommitService
from dockyard.daemon.services.container_ops import ContainerOps
from dockyard.daemon.services.container_views import ContainerViews
from dockyard.daemon.services.container_views import summary as container_summary
from dockyard.daemon.services.containers import ContainerService
from dockyard.daemon.services.disk_usage import DiskUsageService
from dockyard.daemon.services.distribution import DistributionService
from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.exec import ExecService
from dockyard.daemon.services.images import open_image_service
from dockyard.daemon.services.legacylinks import LegacyLinks
from dockyard.daemon.services.logopts import default_log_config
from dockyard.daemon.services.netevents import NetworkEvents
from dockyard.daemon.services.networks import NetworkService
from dockyard.daemon.services.networks import options_from_flags as network_options
from dockyard.daemon.services.overlay_attach import OverlayAttachments, drop_gwbridge
from dockyard.daemon.services.overlay_networks import Networks
from dockyard.daemon.services.runtimes import Runtimes, parse_add_runtime
from dockyard.daemon.services.swarm import SwarmService
from dockyard.daemon.services.swarm_tasks import ServiceTaskContainers
from dockyard.daemon.services.system import SystemService
from dockyard.daemon.services.volumes import VolumeService
from dockyard.runtime.signals import reset_inherited
from dockyard.snapshot import mount_all, unmount

log = logging.getLogger("dockyard")

DEFAULT_SOCKET = "unix:///run/dockyard/dockyard.sock"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dockyardd", description="The Dockyard container engine")
    p.add_argument("--data-root", default="/var/lib/dockyard")
    p.add_argument("--exec-root", default="/run/dockyard")
    p.add_argument("-H", "--host", action="append", default=[])
    p.add_argument("--pidfile", default=None)
    p.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warn", "error", "fatal"]
    )
    p.add_argument("-D", "--debug", action="store_true")
    p.add_argument("--runtime", default="dockyard-runtime", help="dockyard-runtime, runc or a path")
    p.add_argument("--add-runtime", action="append", default=[], help="another runtime: NAME=PATH")
    p.add_argument("--config-file", default=config_file.DEFAULT_PATH, help="daemon.json")
    p.add_argument("--log-driver", default="json-file", help="containers' default log driver")
    p.add_argument("--log-opt", action="append", default=[], help="its options: KEY=VALUE")
    p.add_argument("--seccomp-profile", default=None, help="builtin, unconfined or a path")
    p.add_argument("--default-ulimit", action="append", default=[], help="name=soft[:hard]")
    p.add_argument("--userns-remap", default=None, help="default, user[:group] (/etc/subuid)")
    p.add_argument("--group", "-G", default="root", help="group owning the socket")
    p.add_argument(
        "--no-monitor-zygote",
        dest="monitor_zygote",
        action="store_false",
        help="exec a fresh interpreter per monitor host instead of forking one from a warm zygote",
    )
    p.add_argument(
        "--monitor-group-size",
        type=int,
        default=32,
        help="containers and execs one monitor host process supervises (1: one each)",
    )
    p.add_argument("--bridge", "-b", default="dockyard0", help="the default bridge's name")
    p.add_argument("--bip", default="172.17.0.1/16", help="the default bridge's address/prefix")
    p.add_argument(
        "--insecure-registry", action="append", default=[], help="plain-HTTP registry host:port"
    )
    p.add_argument(
        "--registry-mirror", action="append", default=[], help="a mirror for docker.io (URL)"
    )
    p.add_argument(
        "--default-address-pool",
        action="append",
        default=[],
        help="base=CIDR,size=N: subnets for user networks",
    )
    p.add_argument("--iptables", default="true", choices=["true", "false"])
    p.add_argument("--ip-forward", default="true", choices=["true", "false"])
    p.add_argument("--mtu", type=int, default=1500)
    p.add_argument("--ipv6", action="store_true", help="IPv6 on the default bridge")
    p.add_argument("--fixed-cidr-v6", default="", help="the default bridge's IPv6 subnet")
    p.add_argument(
        "--dns-forward",
        default="true",
        choices=["true", "false"],
        help="embedded DNS forwards unknown names to the host's resolvers (off in tests)",
    )
    p.add_argument(
        "--cluster-store",
        default=None,
        help="etcd://host:port[,host:port...]: keep swarm state in this etcd cluster "
        "instead of starting an etcd member on each manager",
    )
    args = p.parse_args(argv)
    config_file.apply(p, args, sys.argv[1:] if argv is None else argv)
    return args


def cluster_store_endpoints(value: str | None) -> list[str]:
    if not value:
        return []
    if not value.startswith("etcd://"):
        raise SystemExit(f"dockyardd: --cluster-store must be etcd://host:port[,...]: {value}")
    return [f"http://{hp}" for hp in value[len("etcd://") :].split(",") if hp]


def socket_path(host: str) -> str:
    if not host.startswith("unix://"):
        raise SystemExit(f"dockyardd: only unix:// hosts are supported: {host}")
    return host[len("unix://") :]


# The console script pip generates imports `re` (~14 ms) before our code; the
# monitor calls the runtime up to three times per container, so our own runtime
# is invoked through the interpreter directly.
_RUNTIME_LAUNCH = "import sys; from dockyard.runtime.cli import main; sys.exit(main())"


def runtime_command(path: str) -> list[str]:
    """The argv prefix the monitor runs the runtime with."""
    if os.path.basename(path) == "dockyard-runtime" and os.path.dirname(path) == os.path.dirname(
        sys.executable
    ):
        return [sys.executable, "-c", _RUNTIME_LAUNCH]
    return [path]


def resolve_runtime(name: str) -> str:
    if os.sep in name:
        return name
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(here, os.X_OK):
        return here
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"dockyardd: runtime {name!r} not found")
    return found


def write_pidfile(path: str) -> None:
    try:
        with open(path) as f:
            old = int(f.read().strip() or 0)
        if old and os.path.exists(f"/proc/{old}"):
            raise SystemExit(
                f"dockyardd: pid file found, ensure dockyardd is not running or delete {path}"
            )
    except (FileNotFoundError, ValueError):
        pass
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(str(os.getpid()))


async def serve(args: argparse.Namespace) -> None:
    paths = DaemonPaths(os.path.abspath(args.data_root), os.path.abspath(args.exec_root))
    if args.userns_remap and args.userns_remap.partition(":")[0] == "default":
        remapuser.ensure()
    security = spec_host.load_security_defaults(
        args.seccomp_profile, args.default_ulimit, args.userns_remap
    )
    remap = security.userns_remap
    secure_roots(paths.data_root, paths.exec_root, remap[1] if remap else None)
    paths.ensure()
    runtime = resolve_runtime(args.runtime)
    events = EventBus()
    images = open_image_service(Path(paths.data_root), events)
    distribution = DistributionService(
        images, events, paths, args.insecure_registry, args.registry_mirror
    )
    networks = NetworkService(paths, events, network_options(args))
    await networks.start()
    containers = ContainerService(
        paths,
        images,
        events,
        mount_all=mount_all,
        unmount=unmount,
        runtime=runtime_command(runtime)[0],
        runtime_args=[*runtime_command(runtime)[1:], "--root", paths.runtime_root],
        security=security,
    )
    attachments = OverlayAttachments(LegacyLinks(networks, containers), networks)
    containers.network = NetworkEvents(attachments, events)
    networks.containers = containers
    volumes = VolumeService(paths, events)
    containers.volumes = volumes
    volumes.containers = containers
    images.set_usage_check(
        containers.records.images_in_use, running=containers.records.images_running
    )
    daemon_id = _daemon_id(paths)
    system = SystemService(paths, containers, images, os.path.basename(runtime), daemon_id)
    commits = CommitService(containers, images, events, freezer=ContainerOps(containers))
    build_tmp = tmp_dir(paths)
    build_cache = BuildCache(os.path.join(os.path.dirname(build_tmp), "cache.db"))
    builds = BuildService(
        Builder(
            BuildSteps(containers, unmount),
            images,
            commits,
            images.snapshotter,
            build_cache,
            mount_all,
            unmount,
            images.paths.tmp,
        ),
        build_tmp,
    )
    if runtime_command(runtime)[0] == sys.executable:
        containers.runtime_inproc = ["--root", paths.runtime_root]
    zygote = None
    if args.monitor_zygote:
        zygote = await start_zygote(os.path.join(paths.exec_root, "zygote.sock"))
    containers.monitors.zygote_socket = zygote.socket if zygote else None
    containers.runtime_name = os.path.basename(runtime)
    containers.log_default = default_log_config(args.log_driver, args.log_opt)
    containers.runtimes = Runtimes(
        containers.runtime_of({}), parse_add_runtime(args.add_runtime), paths.exec_root
    )
    system.runtimes = containers.runtimes
    containers.monitors.group_size = max(1, args.monitor_group_size)
    await containers.restore()
    await networks.restore()
    execs = ExecService(containers)
    cluster = ClusterNode(
        paths.swarm_root,
        ServiceTaskContainers(containers, paths.exec_root, networks),
        Engine(**system.engine_description()),
        cluster_store_endpoints(args.cluster_store),
    )
    attachments.cluster = cluster
    cluster.left.append(lambda: drop_gwbridge(networks))
    await cluster.restore()
    swarm = SwarmService(cluster)
    networks.resolvers.append(lambda cid, name: cluster.mesh.resolve(cid, name)
                              if cluster.mesh else [])  # fmt: skip

    app = make_app(
        [
            system_router.routes(system, events, cluster),
            swarm_router.routes(cluster, swarm),
            swarm_services.routes(swarm),
            swarm_nodes.routes(swarm),
            swarm_secrets.routes(swarm),
            swarm_logs.routes(swarm, containers),
            plugins_router.routes(),
            containers_router.routes(containers, ContainerViews(containers)),
            exec_router.routes(execs),
            container_ops_router.routes(ContainerOps(containers)),
            images_router.routes(images, pull=distribution_router.pull_handler(distribution)),
            distribution_router.routes(distribution),
            networks_router.routes(Networks(networks, cluster, attachments)),
            volumes_router.routes(volumes),
            system_df_router.routes(DiskUsageService(images, containers, container_summary)),
            commit_router.routes(commits),
            build_router.routes(builds),
        ]
    )
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5, access_log=None)
    await runner.setup()
    hosts = args.host or [DEFAULT_SOCKET]
    bound: dict[str, tuple[int, int]] = {}
    for host in hosts:
        path = socket_path(host)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        old_umask = os.umask(0o177)
        try:
            # dockerd's backlog: a burst of clients waits in the queue instead of being refused
            site = web.UnixSite(runner, path, backlog=LISTEN_BACKLOG)
            await site.start()
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o660)
        st = os.stat(path)
        bound[host] = (st.st_dev, st.st_ino)
        _chgrp(path, args.group)
        log.info("API listen on %s", path)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("Daemon has completed initialization")
    await stop.wait()
    log.info("Processing signal, shutting down; containers keep running (live restore)")
    await cluster.shutdown()
    await execs.shutdown()
    await containers.shutdown()
    await networks.shutdown()
    try:
        await asyncio.wait_for(runner.cleanup(), 10)
    except TimeoutError:
        log.warning("HTTP server did not shut down within 10s")
    images.close()
    if zygote is not None:
        await zygote.stop()
    for host, ident in bound.items():
        # Only our own socket: a daemon started on the same path since then owns it now.
        with contextlib.suppress(FileNotFoundError):
            st = os.stat(socket_path(host))
            if (st.st_dev, st.st_ino) == ident:
                os.unlink(socket_path(host))


LISTEN_BACKLOG = 4096  # what dockerd asks for; the kernel caps it at net.core.somaxconn


class Zygote:
    """The monitor zygote's process (`monitor/zygote.py`); it exits when our pipe closes."""

    def __init__(self, proc: asyncio.subprocess.Process, socket: str) -> None:
        self.proc = proc
        self.socket = socket

    async def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def start_zygote(path: str) -> Zygote | None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dockyard.monitor.zygote", path,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
    except TimeoutError:
        line = b""
    if line.strip() != b"ready":
        log.warning("monitor zygote did not start; monitor hosts will be exec'd")
        proc.kill()
        await proc.wait()
        return None
    return Zygote(proc, path)


def _chgrp(path: str, group: str) -> None:
    import grp

    try:
        os.chown(path, 0, grp.getgrnam(group).gr_gid)
    except (KeyError, PermissionError):
        pass


def _daemon_id(paths: DaemonPaths) -> str:
    p = paths.engine_id_file
    try:
        with open(p) as f:
            return f.read().strip()
    except FileNotFoundError:
        ident = secrets.token_hex(16)
        with open(p, "w") as f:
            f.write(ident)
        return ident


def main(argv: list[str] | None = None) -> None:
    # `nohup dockyardd &` ignores SIGHUP, SIGINT and SIGQUIT; what it starts must not
    reset_inherited()
    args = parse_args(argv)
    level = "debug" if args.debug else args.log_level
    logging.basicConfig(
        level={"warn": logging.WARNING, "fatal": logging.CRITICAL}.get(level, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if os.geteuid() != 0:
        raise SystemExit("dockyardd needs to be started with root privileges")
    if args.pidfile:
        write_pidfile(args.pidfile)
    try:
        asyncio.run(serve(args))
    finally:
        if args.pidfile:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(args.pidfile)


if __name__ == "__main__":
    main()
