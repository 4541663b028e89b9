"""create/start/state/kill/delete as the monitor drives them, error messages, and escapes."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.integration,
]


def _state(runtime, container_id: str) -> dict:
    r = runtime.call("state", container_id)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return int(data[data.rfind(b")") + 2 :].split()[1])


def test_create_start_kill_delete(dockyard, bundle, subreaper, tmp_path):
    bundle.write(["sh", "-c", "echo hello from $$; exec sleep 60"])
    container_id = dockyard.new_id()
    pid_file = tmp_path / "init.pid"
    read_end, write_end = os.pipe()
    try:
        r = dockyard.call(
            "create",
            "--bundle",
            str(bundle.path),
            "--pid-file",
            str(pid_file),
            container_id,
            stdout=write_end,
        )
    finally:
        os.close(write_end)
    assert r.returncode == 0, r.stderr
    state = _state(dockyard, container_id)
    assert state["status"] == "created"
    assert state["id"] == container_id and state["bundle"] == str(bundle.path)
    pid = int(pid_file.read_text())
    assert state["pid"] == pid
    # the init outlived create and was adopted by us, the subreaper
    assert _ppid(pid) == os.getpid()

    assert dockyard.call("start", container_id).returncode == 0
    assert os.read(read_end, 100) == b"hello from 1\n"
    os.close(read_end)
    assert _state(dockyard, container_id)["status"] == "running"
    r = dockyard.call("start", container_id)
    assert r.returncode == 1 and b"cannot start an already running container" in r.stderr

    r = dockyard.call("delete", container_id)
    assert r.returncode == 1 and b"that is not stopped: running" in r.stderr
    listing = dockyard.call("list").stdout.decode()
    assert container_id in listing and "running" in listing

    assert dockyard.call("kill", container_id, "KILL").returncode == 0
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9
    assert _state(dockyard, container_id)["status"] == "stopped"
    r = dockyard.call("kill", container_id)
    assert r.returncode == 1 and b"container not running" in r.stderr
    assert dockyard.call("delete", container_id).returncode == 0
    r = dockyard.call("state", container_id)
    assert r.returncode == 1 and b"container does not exist" in r.stderr
    assert not (dockyard.root / container_id).exists()


def test_kill_default_sigterm_and_delete_force(dockyard, bundle, subreaper):
    bundle.write(["sh", "-c", "trap 'echo got TERM; exit 7' TERM; while :; do sleep 0.05; done"])
    container_id = dockyard.new_id()
    r = dockyard.call("run", "--detach", "--bundle", str(bundle.path), container_id)
    assert r.returncode == 0
    pid = _state(dockyard, container_id)["pid"]
    time.sleep(0.1)
    assert dockyard.call("kill", container_id).returncode == 0
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7
    assert dockyard.call("delete", container_id).returncode == 0

    bundle.write(["sleep", "60"])
    other = dockyard.new_id()
    assert dockyard.call("run", "-d", "-b", str(bundle.path), other).returncode == 0
    pid = _state(dockyard, other)["pid"]
    assert dockyard.call("delete", "--force", other).returncode == 0
    os.waitpid(pid, 0)
    assert dockyard.call("delete", "--force", other).returncode == 0  # gone: still fine


def test_delete_created_container_kills_init(dockyard, bundle, subreaper):
    bundle.write(["true"])
    container_id = dockyard.new_id()
    assert dockyard.call("create", "--bundle", str(bundle.path), container_id).returncode == 0
    pid = _state(dockyard, container_id)["pid"]
    assert dockyard.call("delete", container_id).returncode == 0
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], 'exec: "nope": executable file not found in $PATH'),
        (["/etc/passwd"], 'exec: "/etc/passwd": permission denied'),
    ],
)
def test_create_reports_exec_lookup_errors(runtimes, bundle, args, message):
    bundle.write(args)
    codes = {}
    for runtime in runtimes:
        container_id = runtime.new_id()
        r = runtime.call("create", "--bundle", str(bundle.path), container_id)
        codes[runtime.name] = r.returncode
        if runtime.name == "dockyard":
            assert message in r.stderr.decode()
            assert not (runtime.root / container_id).exists()
    assert codes == {"runc": 1, "dockyard": 1}


def test_run_waits_and_returns_128_plus_signal(dockyard, bundle):
    bundle.write(["sleep", "60"])
    container_id = dockyard.new_id()
    run = subprocess.Popen(
        dockyard.cmd("run", "--bundle", str(bundle.path), container_id),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        dockyard.wait_status(container_id, "running")
        assert dockyard.call("kill", container_id, "9").returncode == 0
        assert run.wait(10) == 128 + 9
    finally:
        run.kill()
        run.wait()
    # run deletes what it created
    assert not (dockyard.root / container_id).exists()


def test_run_forwards_signals(dockyard, bundle):
    bundle.write(["sh", "-c", "trap 'exit 42' USR1; while :; do sleep 0.05; done"])
    container_id = dockyard.new_id()
    run = subprocess.Popen(
        dockyard.cmd("run", "--bundle", str(bundle.path), container_id),
        stdin=subprocess.DEVNULL,
    )
    try:
        dockyard.wait_status(container_id, "running")
        time.sleep(0.1)
        run.send_signal(10)
        assert run.wait(10) == 42
    finally:
        run.kill()
        run.wait()


def test_symlinked_mount_destination_stays_in_rootfs(runtimes, bundle, tmp_path):
    escape = "dockyard-escape-" + os.urandom(4).hex()
    os.symlink("/etc", bundle.rootfs / "hostetc")
    os.symlink("../../../../../../../../etc", bundle.rootfs / "relative")
    bundle.config["mounts"] += [
        {"destination": f"/hostetc/{escape}", "type": "tmpfs", "source": "tmpfs"},
        {"destination": f"/relative/{escape}-2", "type": "tmpfs", "source": "tmpfs"},
    ]
    bundle.write(["sh", "-c", f"grep -c {escape} /proc/self/mountinfo"])
    for runtime in runtimes:
        r = runtime.run(bundle.path)
        assert (r.returncode, r.stdout) == (0, b"2\n"), (runtime.name, r)
        assert not os.path.exists(f"/etc/{escape}")
        assert not os.path.exists(f"/etc/{escape}-2")
        assert (bundle.rootfs / "etc" / escape).is_dir()


def test_leaked_fd_is_not_visible(runtimes, bundle, tmp_path):
    leak = open(tmp_path / "secret", "w")  # noqa: SIM115 - held open on purpose
    try:
        os.set_inheritable(leak.fileno(), True)
        bundle.write(["ls", "/proc/self/fd"])
        outputs = {}
        for runtime in runtimes:
            r = runtime.run(bundle.path, pass_fds=(leak.fileno(),))
            outputs[runtime.name] = (r.returncode, r.stdout)
        assert outputs["dockyard"] == outputs["runc"] == (0, b"0\n1\n2\n3\n")
    finally:
        leak.close()


def test_list_json_and_quiet(dockyard, bundle, subreaper):
    bundle.write(["sleep", "60"])
    container_id = dockyard.new_id()
    assert dockyard.call("create", "-b", str(bundle.path), container_id).returncode == 0
    assert dockyard.call("list", "-q").stdout.decode().split() == [container_id]
    rows = json.loads(dockyard.call("list", "--format", "json").stdout)
    assert [(r["id"], r["status"]) for r in rows] == [(container_id, "created")]
