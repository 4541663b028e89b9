"""Our CLI's exec/attach/cp/top/stats/pause/rename/diff/export against the same
daemon as the docker CLI: same output, same exit codes; and `dockyard run -it`
and `exec -it` in a real pty (resize, detach keys)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from pathlib import Path

import pexpect
import pytest

from tests.conftest import BIN, Daemon
from tests.integration.exec.conftest import unique

pytestmark = pytest.mark.integration


def test_exec_matches_docker(daemon: Daemon, running: str) -> None:
    for args in (["sh", "-c", "echo out; echo err >&2; exit 4"], ["nosuchcmd"]):
        ours, theirs = (
            daemon.dockyard("exec", running, *args),
            daemon.docker("exec", running, *args),
        )
        assert ours.returncode == theirs.returncode
        assert ours.stdout + ours.stderr == theirs.stdout + theirs.stderr
    r = daemon.dockyard("exec", "-i", "-u", "nobody", "-w", "/tmp", "-e", "A=b", running,
                        "sh", "-c", "cat; id -un; pwd; echo $A", input=b"piped\n")  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "piped\nnobody\n/tmp\nb\n")
    assert daemon.dockyard("exec", "-d", running, "sleep", "30").returncode == 0
    ours = daemon.dockyard("top", running, "-o", "pid,user,args")
    assert ours.returncode == 0
    assert ours.stdout == daemon.docker("top", running, "-o", "pid,user,args").stdout
    assert "sleep 30" in ours.stdout


def test_pause_rename_diff_match_docker(daemon: Daemon, running: str, names: list[str]) -> None:
    assert daemon.dockyard("pause", running).stdout == running + "\n"
    r = daemon.dockyard("pause", running)
    assert (r.returncode, r.stderr) == (1, daemon.docker("pause", running).stderr)
    assert daemon.dockyard("unpause", running).stdout == running + "\n"
    new = unique("ren")
    names.append(new)
    assert daemon.dockyard("rename", running, new).returncode == 0
    r, d = daemon.dockyard("rename", new, new), daemon.docker("rename", new, new)
    assert (r.returncode, r.stderr) == (d.returncode, d.stderr)
    daemon.docker("exec", new, "sh", "-c", "touch /tmp/x; rm /bin/true", check=True)
    assert daemon.dockyard("diff", new).stdout == daemon.docker("diff", new).stdout


def test_cp_and_export(daemon: Daemon, running: str, tmp_path: Path) -> None:
    src = tmp_path / "dir"
    (src / "in").mkdir(parents=True)
    (src / "in" / "f").write_text("file\n")
    assert daemon.dockyard("cp", str(src), f"{running}:/tmp/").returncode == 0
    assert daemon.docker("exec", running, "cat", "/tmp/dir/in/f").stdout == "file\n"
    assert daemon.dockyard("cp", f"{running}:/tmp/dir", str(tmp_path / "back")).returncode == 0
    assert (tmp_path / "back" / "in" / "f").read_text() == "file\n"
    assert daemon.dockyard("cp", f"{running}:/tmp/dir/in/f", str(tmp_path)).returncode == 0
    assert (tmp_path / "f").read_text() == "file\n"
    env = daemon.env()
    ours = subprocess.run([str(BIN / "dockyard"), "cp", f"{running}:/etc/hostname", "-"],
                          env=env, capture_output=True, check=True)  # fmt: skip
    theirs = subprocess.run(["docker", "cp", f"{running}:/etc/hostname", "-"], env=env,
                            capture_output=True, check=True)  # fmt: skip
    assert ours.stdout == theirs.stdout
    r = daemon.dockyard("cp", f"{running}:/nonexistent", str(tmp_path / "x"))
    assert r.returncode == 1
    assert r.stderr == daemon.docker("cp", f"{running}:/nonexistent", str(tmp_path / "x")).stderr
    out = subprocess.run([str(BIN / "dockyard"), "export", running], env=env,
                         capture_output=True, check=True)  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tf:
        assert "./bin/busybox" in tf.getnames()


def test_stats_no_stream(daemon: Daemon, running: str) -> None:
    fmt = "{{json .}}"
    ours = json.loads(daemon.dockyard("stats", "--no-stream", "--format", fmt, running).stdout)
    theirs = json.loads(daemon.docker("stats", "--no-stream", "--format", fmt, running).stdout)
    assert set(ours) == set(theirs)
    for key in ("Container", "ID", "Name", "PIDs", "NetIO"):
        assert ours[key] == theirs[key]
    assert ours["MemUsage"].split(" / ")[1] == theirs["MemUsage"].split(" / ")[1]
    header = daemon.dockyard("stats", "--no-stream", running).stdout.splitlines()[0]
    assert header == daemon.docker("stats", "--no-stream", running).stdout.splitlines()[0]


def _spawn(daemon: Daemon, *args: str) -> pexpect.spawn:
    return pexpect.spawn(str(BIN / "dockyard"), list(args), env=daemon.env(), timeout=15,
                         dimensions=(24, 80))  # fmt: skip


def test_dockyard_run_it_resize_and_detach(daemon: Daemon, names: list[str]) -> None:
    n = unique("dyit")
    names.append(n)
    ch = _spawn(daemon, "run", "-it", "--network", "none", "--name", n, "busybox", "sh")
    try:
        ch.expect("# ")
        ch.sendline("stty size")
        ch.expect("24 80")
        ch.setwinsize(31, 99)
        deadline = time.monotonic() + 5
        while True:
            ch.sendline("stty size")
            if ch.expect(["31 99", "24 80"]) == 0:
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        ch.sendcontrol("p")
        ch.sendcontrol("q")
        ch.expect(pexpect.EOF)
        ch.close()
        assert ch.exitstatus == 0
    finally:
        ch.close(force=True)
    state = daemon.docker("inspect", "-f", "{{.State.Status}}", n).stdout.strip()
    assert state == "running"
    ch = _spawn(daemon, "exec", "-it", n, "sh")
    try:
        ch.expect("# ")
        ch.sendline("tty; exit 6")
        ch.expect(r"/dev/pts/\d+")
        ch.expect(pexpect.EOF)
        ch.close()
        assert ch.exitstatus == 6
    finally:
        ch.close(force=True)
    ch = _spawn(daemon, "attach", n)
    try:
        # typed before the CLI is attached (even before it set raw mode): kept, as docker's
        ch.sendline("exit 2")
        ch.expect(pexpect.EOF)
        ch.close()
        assert ch.exitstatus == 2
    finally:
        ch.close(force=True)
