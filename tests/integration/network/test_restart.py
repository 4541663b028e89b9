"""A private daemon restarted (live restore): addresses, published ports and names keep
working; on the final stop no bridge, veth, namespace or iptables rule is left."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX_PATH, kill_leftovers, start_daemon, stop_daemon
from tests.integration.network.test_networks import _free_port, _get, _ports_of, _rules


def test_restart_keeps_addresses_ports_and_names(busybox_rootfs_tar: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = Path(tempfile.mkdtemp(prefix="dynet-"))
    d = start_daemon(root)
    try:
        bridge = (root / ".bridge").read_text()
        d.docker("import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                 str(busybox_rootfs_tar), "busybox:latest", check=True)  # fmt: skip
        port = _free_port()
        d.docker("network", "create", "usernet", check=True)
        d.docker("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "busybox",
                 "httpd", "-f", "-p", "80", "-h", "/etc", check=True)  # fmt: skip
        d.docker("run", "-d", "--name", "named", "--network", "usernet", "busybox",
                 "httpd", "-f", "-p", "80", "-h", "/etc", check=True)  # fmt: skip
        ip = json.loads(d.docker("inspect", "web").stdout)[0]["NetworkSettings"]["IPAddress"]
        hostname = _get(f"http://127.0.0.1:{port}/hostname")
        stop_daemon(d)
        assert _rules(f"DY-{bridge}") == []  # rules go with the daemon
        d = start_daemon(root)
        info = json.loads(d.docker("inspect", "web", check=True).stdout)[0]
        assert info["State"]["Running"] and info["NetworkSettings"]["IPAddress"] == ip
        assert _get(f"http://127.0.0.1:{port}/hostname") == hostname
        r = d.docker("run", "--rm", "--network", "usernet", "busybox",
                     "wget", "-qO-", "http://named/hostname")  # fmt: skip
        assert r.returncode == 0 and r.stdout.strip(), r.stderr
        # a new container does not get an address still in use
        r = d.docker("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0")
        assert f" {ip}/" not in r.stdout
        ports = _ports_of(bridge)
        d.docker("rm", "-f", "web", "named", check=True)
        d.docker("network", "rm", "usernet", check=True)
        stop_daemon(d)
        time.sleep(0.2)
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert bridge not in links and not any(p in links for p in ports)
        assert _rules(f"DY-{bridge}") == []
        assert not list((root / "exec" / "netns").iterdir())
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            raise AssertionError("published port still answers")
        except OSError:
            pass
    finally:
        stop_daemon(d)
        kill_leftovers(root)
        shutil.rmtree(root, ignore_errors=True)
