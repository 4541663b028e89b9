"""exec, pause/resume, kill --all, cgroup limits and --console-socket, against runc where it helps."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]


def _detached(runtime, bundle) -> str:
    container_id = runtime.new_id()
    r = runtime.call("run", "--detach", "--bundle", str(bundle.path), container_id)
    assert r.returncode == 0, r.stderr
    return container_id


def test_exec_joins_the_container(runtimes, bundle, subreaper):
    bundle.write(["sleep", "60"])
    script = "[ $$ -gt 1 ] && echo not-pid-1; hostname; readlink /proc/self/cwd; ls /proc/self/fd; id; echo $FOO; exit 5"
    results = {}
    for runtime in runtimes:
        container_id = _detached(runtime, bundle)
        r = runtime.call(
            "exec",
            "--user",
            "1000:1000",
            "--env",
            "FOO=bar",
            "--cwd",
            "/tmp",
            container_id,
            "sh",
            "-c",
            script,
        )
        results[runtime.name] = (r.returncode, r.stdout.decode())
        missing = runtime.call("exec", container_id, "nope")
        assert missing.returncode == 255
        assert b"executable file not found in $PATH" in missing.stderr
    assert results["dockyard"] == results["runc"]
    assert results["dockyard"][0] == 5


def test_pause_resume_and_kill_all(dockyard, bundle, subreaper):
    bundle.write(["sh", "-c", "sleep 60 & sleep 60"])
    container_id = _detached(dockyard, bundle)
    time.sleep(0.1)
    assert dockyard.call("pause", container_id).returncode == 0
    assert json.loads(dockyard.call("state", container_id).stdout)["status"] == "paused"
    assert dockyard.call("resume", container_id).returncode == 0
    r = dockyard.call("resume", container_id)
    assert r.returncode == 1 and b"not paused" in r.stderr
    pids = json.loads(dockyard.call("ps", "--format", "json", container_id).stdout)
    assert len(pids) == 2  # sh execs its last command: sh and one sleep
    assert dockyard.call("pause", container_id).returncode == 0
    assert dockyard.call("kill", "--all", container_id, "KILL").returncode == 0
    dockyard.wait_status(container_id, "stopped")
    assert dockyard.call("delete", container_id).returncode == 0
    cgroup = "/sys/fs/cgroup/pids/" + container_id
    assert not os.path.exists(cgroup)


def test_cgroup_limits_same_as_runc(runtimes, bundle):
    bundle.config["linux"]["resources"].update(
        memory={"limit": 64 * 1024 * 1024}, pids={"limit": 40}, cpu={"shares": 512}
    )
    bundle.write(
        [
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
            "/sys/fs/cgroup/cpu/cpu.shares; cut -d: -f2 /proc/self/cgroup; echo ok > /dev/null",
        ]
    )
    outputs = {r.name: (x.returncode, x.stdout) for r in runtimes for x in [r.run(bundle.path)]}
    assert outputs["dockyard"] == outputs["runc"]
    assert outputs["dockyard"][1].startswith(b"67108864\n40\n512\n")


def _console_output(runtime, bundle, tmp_path) -> bytes:
    path = str(tmp_path / f"console-{runtime.name}.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.settimeout(10)
    container_id = runtime.new_id()
    r = runtime.call("create", "--bundle", str(bundle.path), "--console-socket", path, container_id)
    assert r.returncode == 0, r.stderr
    conn, _ = server.accept()
    _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
    conn.close()
    server.close()
    master = fds[0]
    assert runtime.call("start", container_id).returncode == 0
    out = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return out


def test_console_socket_gives_a_pty(runtimes, bundle, tmp_path, subreaper):
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["consoleSize"] = {"height": 30, "width": 100}
    bundle.write(["sh", "-c", "tty; stty size; [ -t 0 ] && echo stdin-is-tty"])
    outputs = {r.name: _console_output(r, bundle, tmp_path) for r in runtimes}
    assert outputs["dockyard"] == outputs["runc"]
    assert b"/dev/pts/0" in outputs["dockyard"] and b"30 100" in outputs["dockyard"]
