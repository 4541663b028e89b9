"""Our CLI's network and volume commands against a real dockyardd, checked against
what the official docker CLI sees."""

from __future__ import annotations

import json
import secrets

from tests.conftest import Daemon


def test_dockyard_network_and_volume_commands(daemon: Daemon) -> None:
    net, vol = f"n-{secrets.token_hex(3)}", f"v-{secrets.token_hex(3)}"
    try:
        r = daemon.dockyard("network", "create", "--subnet", "10.252.9.0/24", "--label", "t=1",
                            "--internal", net, check=True)  # fmt: skip
        nid = r.stdout.strip()
        info = json.loads(daemon.docker("network", "inspect", net, check=True).stdout)[0]
        assert info["Id"] == nid and info["Internal"] and info["Labels"] == {"t": "1"}
        assert info["IPAM"]["Config"][0]["Subnet"] == "10.252.9.0/24"
        r = daemon.dockyard("network", "ls", "--filter", "label=t=1", check=True)
        assert r.stdout.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
        assert r.stdout.splitlines()[1].split() == [nid[:12], net, "bridge", "local"]
        r = daemon.dockyard("network", "inspect", "--format", "{{.Name}}", net, check=True)
        assert r.stdout == net + "\n"
        daemon.dockyard("volume", "create", "--label", "t=1", vol, check=True)
        r = daemon.dockyard("volume", "ls", "-q", "--filter", "label=t=1", check=True)
        assert r.stdout.split() == [vol]
        r = daemon.dockyard("volume", "inspect", vol, check=True)
        assert json.loads(r.stdout)[0]["Name"] == vol
        for kind, name in (("network", net), ("volume", vol)):
            # one found, one not: the found one printed, the daemon's error after it, exit 1
            ours = daemon.dockyard(kind, "inspect", "-f", "{{.Name}}", name, "nope-" + name)
            theirs = daemon.docker(kind, "inspect", "-f", "{{.Name}}", name, "nope-" + name)
            assert (
                (ours.returncode, ours.stdout)
                == (1, name + "\n")
                == (theirs.returncode, theirs.stdout)
            ), (ours, theirs)
            assert (
                ours.stderr.startswith("Error response from daemon: ")
                and f"nope-{name}" in ours.stderr
            )
        r = daemon.dockyard("network", "rm", "nope-" + net)
        assert r.returncode == 1 and "not found" in r.stderr
    finally:
        assert daemon.dockyard("volume", "rm", vol).stdout.strip() == vol
        assert daemon.dockyard("network", "rm", net).stdout.strip() == net
    assert daemon.docker("network", "inspect", net).returncode != 0
    assert daemon.docker("volume", "inspect", vol).returncode != 0
