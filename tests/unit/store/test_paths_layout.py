"""The data-root layouts the paths modules draw in their docstrings, path by path
(pathtable's `below` joins them; a layout that moved would strand existing data)."""

from pathlib import Path

from dockyard.daemon.paths import DaemonPaths
from dockyard.snapshot.paths import OverlayPaths
from dockyard.store.paths import StorePaths


def test_daemon_layout() -> None:
    p = DaemonPaths("/d", "/e")
    assert {name: getattr(p, name) for name in (
        "containers_root", "bundles_root", "swarm_root", "engine_id_file", "volumes_root",
        "networks_root", "netns_root", "distribution_metadata", "certs_dir", "builder_tmp",
        "runtime_root", "sockets_root",
    )} == {
        "containers_root": "/d/containers", "bundles_root": "/e/containers",
        "swarm_root": "/d/swarm", "engine_id_file": "/d/engine-id", "volumes_root": "/d/volumes",
        "networks_root": "/d/network", "netns_root": "/e/netns",
        "distribution_metadata": "/d/distribution/v2metadata.json", "certs_dir": "/d/certs.d",
        "builder_tmp": "/d/builder/tmp", "runtime_root": "/e/runtime", "sockets_root": "/e/s",
    }  # fmt: skip
    assert p.log("c1") == "/d/containers/c1/c1-json.log"
    assert p.monitor_socket("a" * 64) == "/e/s/" + "a" * 32
    # a Path given as a root still yields str paths, as os.path.join did
    assert DaemonPaths(Path("/d"), "/e").volumes_root == "/d/volumes"  # type: ignore[arg-type]


def test_store_and_snapshot_layouts() -> None:
    s = StorePaths.under(Path("/d"))
    assert (s.db, s.content, s.blobs, s.ingest, s.tmp) == (
        Path("/d/image/metadata.db"), Path("/d/image/content"),
        Path("/d/image/content/blobs/sha256"), Path("/d/image/content/ingest"),
        Path("/d/image/tmp"),
    )  # fmt: skip
    assert s.all_dirs() == (s.root, s.blobs, s.ingest, s.tmp)
    o = OverlayPaths.under(Path("/d"))
    assert (o.db, o.snapshots, o.tmp, o.fs(3), o.work(3)) == (
        Path("/d/snapshots/overlay/metadata.db"), Path("/d/snapshots/overlay/snapshots"),
        Path("/d/snapshots/overlay/tmp"), Path("/d/snapshots/overlay/snapshots/3/fs"),
        Path("/d/snapshots/overlay/snapshots/3/work"),
    )  # fmt: skip
