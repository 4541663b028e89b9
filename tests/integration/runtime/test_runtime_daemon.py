"""The daemon's side of the runtime, through the official docker CLI against dockyardd:
Config.Domainname reaches the OCI spec and the container's UTS namespace, and
``--privileged`` (or host network/PID) with user-namespace remapping is refused with
dockerd's wording (moby's verifyPlatformContainerSettings)."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from dockyard.daemon.services.container_model import SandboxInfo
from dockyard.daemon.services.spec_builder import build_spec
from dockyard.daemon.services.spec_host import known_capabilities
from dockyard.daemon.services.spec_inputs import (
    HostFacts,
    Joins,
    SecurityDefaults,
    SpecMounts,
    User,
)
from tests.integration.security.test_userns_remap import (
    BASE,
    SIZE,
    dockremap_ranges,
    remapped_daemon,
    subids,
)

__all__ = ["dockremap_ranges", "remapped_daemon", "subids"]  # fixtures, shared with the security tests

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]

PRIVILEGED_USERNS = (
    "privileged mode is incompatible with user namespaces.  You must run the container in "
    "the host namespace when running privileged mode"
)


def test_domainname_in_spec_reaches_container(dockyard, bundle):
    """build_spec's ``domainname`` is the spec's, set in the container's UTS namespace."""
    spec = _spec(str(bundle.rootfs), "example.org")
    assert spec["domainname"] == "example.org"
    assert "domainname" not in _spec(str(bundle.rootfs), "")
    (bundle.path / "config.json").write_text(json.dumps(spec))
    r = dockyard.run(bundle.path)
    assert (r.returncode, r.stdout) == (0, b"dyhost\nexample.org\n"), r.stderr


def _spec(rootfs: str, domainname: str) -> dict:
    return build_spec(
        cid=f"dytest-{uuid.uuid4().hex[:12]}",  # its cgroup is removed with the container
        command=["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"],
        config={"Hostname": "dyhost", "Domainname": domainname},
        host_config={},
        rootfs=rootfs,
        sandbox=SandboxInfo(),
        mounts=SpecMounts(),
        host=HostFacts(User(0, 0, [], "/root"), tuple(known_capabilities())),
        joins=Joins(),
        defaults=SecurityDefaults(),
    )


def test_docker_run_domainname(daemon):
    r = daemon.docker(
        "run", "--rm", "--network", "none", "--hostname", "box", "--domainname", "example.org",
        "busybox", "sh", "-c", "hostname; cat /proc/sys/kernel/domainname",
    )  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "box\nexample.org\n"), r.stderr


def test_privileged_refused_with_userns_remap(remapped_daemon):
    d = remapped_daemon
    r = d.docker("run", "--rm", "--network", "none", "--privileged", "busybox", "true")
    assert r.returncode == 125
    assert f"Error response from daemon: {PRIVILEGED_USERNS}" in r.stderr
    for flags, message in (
        (["--network", "host"], "cannot share the host's network namespace"),
        (["--network", "none", "--pid", "host"], "cannot share the host PID namespace"),
    ):
        r = d.docker("run", "--rm", *flags, "busybox", "true")
        assert r.returncode == 125 and f"{message} when user namespaces are enabled" in r.stderr
    # refused at create, as dockerd does: no container is left behind
    assert d.docker("ps", "-aq").stdout.split() == []
    # in the host's user namespace, privileged is allowed (dockerd's advice)
    r = d.docker(
        "run", "--rm", "--network", "none", "--privileged", "--userns", "host", "busybox",
        "sh", "-c", "cat /proc/self/uid_map; grep CapEff /proc/self/status",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:3] == ["0", "0", "4294967295"]
    with open("/proc/self/status") as f:
        bounding = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    assert r.stdout.split()[-1] == bounding  # every capability the daemon may give
    # and without --privileged the remapped range applies
    r = d.docker("run", "--rm", "--network", "none", "busybox", "cat", "/proc/self/uid_map")
    assert r.stdout.split() == ["0", str(BASE), str(SIZE)]
