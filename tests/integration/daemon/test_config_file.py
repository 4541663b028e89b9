"""The daemon's defaults for containers' logging (`--log-driver`, `--log-opt`) and
its configuration file (`--config-file`, dockerd's daemon.json keys), as dockerd:
a container that names no driver gets the daemon's, with its options; the file's
keys set what flags would; a key also given as a flag, or unknown, stops the
daemon with dockerd's words."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from pathlib import Path

from tests.conftest import BIN, Daemon, daemon_with_busybox, inspect


def test_daemon_log_defaults_from_daemon_json(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    path = str(tmp_path / "log.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(1)
    conf = tmp_path / "daemon.json"
    conf.write_text(json.dumps({"log-driver": "syslog",
                                "log-opts": {"syslog-address": f"unixgram://{path}",
                                             "tag": "fromconf"}}))  # fmt: skip
    root = tmp_path / "d"
    root.mkdir()
    with server, daemon_with_busybox(root, busybox_rootfs_tar, ["--config-file", str(conf)]) as d:
        _check_defaults(d, server)


def _check_defaults(d: Daemon, server: socket.socket) -> None:
    info = json.loads(d.docker("info", "--format", "{{json .}}", check=True).stdout)
    assert info["LoggingDriver"] == "syslog"
    name = f"cf-{uuid.uuid4().hex[:8]}"
    d.docker("run", "--name", name, "--network", "none", "busybox", "echo", "hi", check=True)
    lc = inspect(d, name)["HostConfig"]["LogConfig"]
    assert lc["Type"] == "syslog" and lc["Config"]["tag"] == "fromconf"
    deadline = time.monotonic() + 30
    got = b""
    while not got and time.monotonic() < deadline:
        try:
            got = server.recv(65536)
        except TimeoutError:
            continue
    assert b" fromconf[" in got and got.endswith(b": hi\n"), got
    # a driver named at run keeps its own options only
    other = d.docker("run", "--rm", "--log-driver", "json-file", "--network", "none", "busybox",
                     "echo", "x", check=True)  # fmt: skip
    assert other.stdout == "x\n"


def _refused(tmp_path: Path, doc: dict, *flags: str) -> str:
    conf = tmp_path / f"{uuid.uuid4().hex[:6]}.json"
    conf.write_text(json.dumps(doc))
    r = subprocess.run([str(BIN / "dockyardd"), "--config-file", str(conf),
                        "--data-root", str(tmp_path / "x"), "--exec-root", str(tmp_path / "y"),
                        "-H", f"unix://{tmp_path}/z.sock", *flags],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode != 0
    return r.stderr


def test_config_file_conflicts_and_unknown_keys(tmp_path: Path) -> None:
    err = _refused(tmp_path, {"log-driver": "none"}, "--log-driver", "json-file")
    assert ("the following directives are specified both as a flag and in the configuration "
            "file: log-driver") in err  # fmt: skip
    err = _refused(tmp_path, {"no-such-key": 1})
    assert "the following directives don't match any configuration option: no-such-key" in err
    err = _refused(tmp_path, {"log-driver": "nosuch"})
    assert "no log driver named 'nosuch'" in err
