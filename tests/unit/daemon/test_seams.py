"""The container service's seams to the network and volume layers are whole: every
method the service and its routers call is declared in NetworkAttacher/VolumeMounter
and present in each implementation (no getattr probes for optional ones)."""

from __future__ import annotations

import inspect

import pytest

from dockyard.daemon.services.container_model import (
    NetworkAttacher,
    NoNetwork,
    NoVolumes,
    VolumeMounter,
)
from dockyard.daemon.services.legacylinks import LegacyLinks
from dockyard.daemon.services.networks import NetworkService
from dockyard.daemon.services.volumes import VolumeService


def members(proto: type) -> set[str]:
    return {n for n, v in vars(proto).items() if not n.startswith("_") and callable(v)}


def test_protocols_declare_what_the_service_calls() -> None:
    assert members(NetworkAttacher) >= {"created", "attach", "detach", "settings", "ps_ports",
                                        "remove_link"}  # fmt: skip
    assert members(VolumeMounter) >= {"validate", "mounts", "release", "mount_points"}


@pytest.mark.parametrize(
    ("proto", "impl"),
    [(NetworkAttacher, (NoNetwork,)), (VolumeMounter, (NoVolumes,)),
     (VolumeMounter, (VolumeService,)),
     # the daemon's: legacy links over the network service (the rest is delegated)
     (NetworkAttacher, (LegacyLinks, NetworkService))],
)  # fmt: skip
def test_implementations_have_every_method(proto: type, impl: tuple[type, ...]) -> None:
    for name in members(proto):
        found = [getattr(k, name) for k in impl if hasattr(k, name)]
        assert found, f"{impl[0].__name__} lacks {name}"
        want = inspect.iscoroutinefunction(getattr(proto, name))
        assert inspect.iscoroutinefunction(found[0]) == want, name


def test_image_service_is_what_docker_info_lists() -> None:
    from dockyard.daemon.services.images import ImageService
    from dockyard.daemon.services.system import ImageLister

    for name in members(ImageLister):
        assert callable(getattr(ImageService, name, None)), name
