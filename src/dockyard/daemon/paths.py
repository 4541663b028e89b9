"""Every path the daemon itself uses under --data-root and --exec-root.

data-root/containers/<id>/   config.v2.json, <id>-json.log, exit.json, hosts, hostname, resolv.conf
exec-root/containers/<id>/   the OCI bundle: config.json, rootfs/ (mount point), monitor.json,
                             monitor.pid, monitor.log, runtime.log, init.pid
exec-root/s/<id[:32]>        the monitor's socket (short: AF_UNIX paths are limited)
exec-root/runtime/           the runtime's --root (state of live containers)
data-root/engine-id          this engine's ID (/info's ID)
data-root/volumes/           the local volume driver's volumes
data-root/distribution/      v2metadata.json (layer digests by registry); certs.d/ registries' CAs
data-root/builder/tmp/       the builder's scratch (contexts, spools), emptied at start
data-root/network/           network records; exec-root/netns/ the sandboxes' namespaces
data-root/swarm/              state.json (this node's membership), etcd/ (the embedded member)
exec-root/swarm/files/<name>/ a tmpfs with a task's secrets and configs
The image layer keeps its own paths module (store/paths.py) under data-root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dockyard.pathtable import below


@dataclass(frozen=True)
class DaemonPaths:
    data_root: str
    exec_root: str

    def ensure(self) -> None:
        for d in (self.containers_root, self.bundles_root, self.runtime_root, self.sockets_root):
            os.makedirs(d, mode=0o700, exist_ok=True)

    containers_root = below("data_root", "containers")
    bundles_root = below("exec_root", "containers")
    swarm_root = below("data_root", "swarm")
    engine_id_file = below("data_root", "engine-id")
    volumes_root = below("data_root", "volumes")
    networks_root = below("data_root", "network")
    netns_root = below("exec_root", "netns")
    distribution_metadata = below("data_root", "distribution", "v2metadata.json")
    certs_dir = below("data_root", "certs.d")
    builder_tmp = below("data_root", "builder", "tmp")
    runtime_root = below("exec_root", "runtime")
    sockets_root = below("exec_root", "s")

    def container_dir(self, cid: str) -> str:
        return os.path.join(self.containers_root, cid)

    def container_record(self, cid: str) -> str:
        return os.path.join(self.container_dir(cid), "config.v2.json")

    def log(self, cid: str) -> str:
        return os.path.join(self.container_dir(cid), f"{cid}-json.log")

    def exit_file(self, cid: str) -> str:
        return os.path.join(self.container_dir(cid), "exit.json")

    def etc_file(self, cid: str, name: str) -> str:
        return os.path.join(self.container_dir(cid), name)

    def bundle(self, cid: str) -> str:
        return os.path.join(self.bundles_root, cid)

    def rootfs(self, cid: str) -> str:
        return os.path.join(self.bundle(cid), "rootfs")

    def shm(self, cid: str) -> str:
        """A shareable container's /dev/shm, a tmpfs mounted here on the host."""
        return os.path.join(self.bundle(cid), "shm")

    def monitor_socket(self, cid: str) -> str:
        # Short on purpose: AF_UNIX paths are limited to 108 bytes, and a bundle
        # path holds the 64-character id.
        return os.path.join(self.sockets_root, cid[:32])

    def monitor_config(self, cid: str) -> str:
        return os.path.join(self.bundle(cid), "monitor.json")
