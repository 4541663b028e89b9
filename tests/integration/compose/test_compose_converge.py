"""Converging like Compose v2: `up` in the foreground returns `--exit-code-from`'s
code with prefixed output; a changed service (config hash) is recreated and an
unchanged one kept; `ls` lists the project; `down` removes it."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.compose.conftest import Target
from tests.integration.compose.proc import end_group

pytestmark = pytest.mark.integration

APP = """\
services:
  a:
    image: busybox
    command: ["sh", "-c", "echo from-a; exec sleep 1000"]
    stop_signal: SIGKILL
  b:
    image: busybox
    command: ["sh", "-c", "echo from-b; exit {code}"]
"""


def _ids(t: Target, project: str) -> dict[str, str]:
    out = t.docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                   "--format", "{{.Names}} {{.ID}}").stdout  # fmt: skip
    return dict(line.split() for line in out.splitlines())


def test_foreground_exit_code_and_selective_recreate(target: Target, tmp_path: Path) -> None:
    t = target
    project = "dyx" + uuid.uuid4().hex[:8]
    (tmp_path / "compose.yaml").write_text(APP.format(code=3))

    def c(*args: str) -> subprocess.CompletedProcess[str]:
        return t.compose("-p", project, *args, cwd=tmp_path)

    try:
        r = c("up", "--exit-code-from", "b", "--no-color")
        assert r.returncode == 3, r.stdout + r.stderr
        assert "b-1  | from-b" in r.stdout
        assert "b-1 exited with code 3" in r.stdout
        # --abort-on-container-exit stopped a as well
        assert "Up" not in t.docker("ps", "-a", "--filter", f"name={project}-a-1",
                                    "--format", "{{.Status}}").stdout  # fmt: skip

        r = c("up", "-d")
        assert r.returncode == 0, r.stderr
        before = _ids(t, project)
        (tmp_path / "compose.yaml").write_text(APP.format(code=4))
        r = c("up", "-d")
        assert r.returncode == 0, r.stderr
        after = _ids(t, project)
        assert after[f"{project}-a-1"] == before[f"{project}-a-1"]
        assert after[f"{project}-b-1"] != before[f"{project}-b-1"]
        assert f"{project}-b-1  Recreate" in r.stderr

        listed = c("ls", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        assert f'"Name": "{project}"' in listed.stdout
        assert str(tmp_path / "compose.yaml") in listed.stdout
    finally:
        r = c("down", "-t", "1")
    assert r.returncode == 0, r.stderr
    assert _ids(t, project) == {}


LIFE = """\
services:
  a:
    image: busybox
    command: ["sh", "-c", "echo up; exec sleep 1000"]
    stop_signal: SIGKILL
    ports: ["127.0.0.1::8080"]
"""


def test_lifecycle_commands(target: Target, tmp_path: Path) -> None:
    """pause/unpause, stop/start, kill, restart, top, port, cp, images, rm."""
    t = target
    project = "dyl" + uuid.uuid4().hex[:8]
    (tmp_path / "compose.yaml").write_text(LIFE)

    def c(*args: str) -> subprocess.CompletedProcess[str]:
        return t.compose_ok("-p", project, *args, cwd=tmp_path)

    def state() -> str:
        return t.docker("inspect", "-f", "{{.State.Status}}", f"{project}-a-1").stdout.strip()

    try:
        c("up", "-d")
        c("pause", "a")
        assert state() == "paused"
        c("unpause")
        assert state() == "running"
        c("stop", "-t", "1")
        assert state() == "exited"
        c("start", "a")
        assert state() == "running"
        c("kill", "a")
        assert state() == "exited"
        c("restart", "-t", "1")
        assert state() == "running"
        assert "sleep 1000" in c("top").stdout
        published = c("port", "a", "8080").stdout.strip()
        host, _, hport = published.rpartition(":")
        assert host == "127.0.0.1" and int(hport) > 0
        (tmp_path / "in.txt").write_text("copied")
        c("cp", str(tmp_path / "in.txt"), "a:/tmp/in.txt")
        c("cp", "a:/tmp/in.txt", str(tmp_path / "out.txt"))
        assert (tmp_path / "out.txt").read_text() == "copied"
        images = c("images").stdout
        assert f"{project}-a-1" in images and "busybox" in images
        assert c("ps", "-q").stdout.strip() != ""
        # with -p and no compose file, commands find the project by its labels
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        bare = t.compose("-p", project, "ps", "--services", cwd=elsewhere)
        assert bare.returncode == 0 and bare.stdout.split() == ["a"], bare.stderr
        c("stop", "-t", "1")
        c("rm", "-f")
        assert c("ps", "-a", "-q").stdout.strip() == ""
    finally:
        t.compose("-p", project, "down", "-t", "0", cwd=tmp_path)


def test_orphans_warned_then_removed(target: Target, tmp_path: Path) -> None:
    t = target
    project = "dyo" + uuid.uuid4().hex[:8]
    two = (
        LIFE + "  b:\n    image: busybox\n    command: [sleep, '1000']\n    stop_signal: SIGKILL\n"
    )
    (tmp_path / "compose.yaml").write_text(two)

    def c(*args: str) -> subprocess.CompletedProcess[str]:
        return t.compose_ok("-p", project, *args, cwd=tmp_path)

    try:
        c("up", "-d")
        (tmp_path / "compose.yaml").write_text(LIFE)
        r = c("up", "-d")
        assert f"Found orphan containers ({project}-b-1)" in r.stderr
        assert f"{project}-b-1" in _ids(t, project)
        c("up", "-d", "--remove-orphans")
        assert list(_ids(t, project)) == [f"{project}-a-1"]
    finally:
        t.compose("-p", project, "down", "-t", "0", "--remove-orphans", cwd=tmp_path)
    assert _ids(t, project) == {}


def test_events_json(target: Target, tmp_path: Path) -> None:
    import json
    import threading
    import time

    t = target
    project = "dye" + uuid.uuid4().hex[:8]
    (tmp_path / "compose.yaml").write_text(LIFE)
    events = subprocess.Popen([*t.argv, "-p", project, "events", "--json"], cwd=tmp_path,
                              env=t.env, stdout=subprocess.PIPE, text=True,
                              start_new_session=True)  # fmt: skip
    seen: list[dict] = []

    def read() -> None:
        assert events.stdout is not None
        for line in events.stdout:
            seen.append(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    try:
        r = t.compose("-p", project, "up", "-d", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        # the subscription may have started after `up`'s events: a restart makes more
        deadline = time.monotonic() + 60
        restarted = False
        while not any(e["action"] == "start" for e in seen):
            assert time.monotonic() < deadline, seen
            if not restarted and time.monotonic() > deadline - 50:
                assert t.compose("-p", project, "restart", cwd=tmp_path).returncode == 0
                restarted = True
            time.sleep(0.2)
        assert all(e["service"] == "a" and e["type"] == "container" for e in seen), seen
    finally:
        end_group(events)
        t.compose("-p", project, "down", "-t", "0", cwd=tmp_path)


def _up_attached(t: Target, project: str, tmp_path: Path,
                 sigint_ignored: bool = False) -> subprocess.Popen[str]:  # fmt: skip
    """`up` of LIFE in the foreground, in a session of its own, once its container's own
    output came through (attached and running)."""
    import signal
    import time

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    (tmp_path / "compose.yaml").write_text(LIFE)
    up = subprocess.Popen([*t.argv, "-p", project, "up", "--no-color"], cwd=tmp_path,
                          env=t.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, start_new_session=True,
                          preexec_fn=ignore_sigint if sigint_ignored else None)  # fmt: skip
    assert up.stdout is not None
    deadline = time.monotonic() + 120
    try:
        for line in up.stdout:
            if line.rstrip().endswith("| up"):
                return up
            assert time.monotonic() < deadline
        raise AssertionError("compose up ended before its container's output came")
    except BaseException:
        end_group(up)
        t.compose("-p", project, "down", "-t", "0", cwd=tmp_path)
        raise


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["", "started-ignoring-sigint"])
def test_interrupted_foreground_up_stops_the_project(target: Target, tmp_path: Path,
                                                     sigint_ignored: bool) -> None:  # fmt: skip
    """Ctrl-C (SIGINT to the foreground process group) stops the containers; exit 130.
    Also when compose was started with SIGINT ignored (as a shell's background job
    without job control starts it: the test hung in the burner runs, whose pytest was
    such a job), as Compose v2 takes an ignored SIGINT back."""
    import os
    import signal

    t = target
    project = "dyi" + uuid.uuid4().hex[:8]
    up = _up_attached(t, project, tmp_path, sigint_ignored)
    try:
        os.killpg(up.pid, signal.SIGINT)
        assert up.wait(60) == 130
        state = t.docker("inspect", "-f", "{{.State.Status}}", f"{project}-a-1").stdout.strip()
        assert state == "exited"
    finally:
        end_group(up)
        t.compose("-p", project, "down", "-t", "0", cwd=tmp_path)


BROKEN = """\
services:
  db:
    image: busybox
    entrypoint: ["/no/such/program"]
""" + "".join(f"""\
  web{i}:
    image: busybox
    command: ["sleep", "1000"]
    depends_on: [db]
""" for i in range(4))


def test_a_failed_dependency_reports_its_own_error(target: Target, tmp_path: Path) -> None:
    """The dependents fail with the dependency's error, not one of their own making,
    and are not started."""
    t = target
    project = "dyb" + uuid.uuid4().hex[:8]
    (tmp_path / "compose.yaml").write_text(BROKEN)
    try:
        r = t.compose("-p", project, "up", "-d", cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        last = r.stderr.strip().splitlines()[-1]
        assert "/no/such/program" in last, r.stderr
        running = t.docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project}")
        assert running.stdout.strip() == ""
    finally:
        t.compose("-p", project, "down", "-t", "0", cwd=tmp_path)


SHARED = """\
services:
  db:
    image: busybox
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    environment: [GEN={gen}]
  side:
    image: busybox
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    network_mode: service:db
    volumes_from: [db]
"""


def test_a_service_sharing_another_follows_its_recreation(target: Target, tmp_path: Path) -> None:
    """`network_mode: service:db` is hashed with db's container, as v2 hashes it: an
    unchanged project keeps both; db recreated recreates side into db's new namespace."""
    t = target
    project = "dys" + uuid.uuid4().hex[:8]
    (tmp_path / "compose.yaml").write_text(SHARED.format(gen=1))

    def c(*args: str) -> subprocess.CompletedProcess[str]:
        return t.compose_ok("-p", project, *args, cwd=tmp_path)

    def network_mode(name: str) -> str:  # container:<full id>
        return t.docker("inspect", "-f", "{{.HostConfig.NetworkMode}}", name).stdout.strip()

    try:
        c("up", "-d")
        ids = _ids(t, project)
        assert network_mode(f"{project}-side-1").startswith(f"container:{ids[f'{project}-db-1']}")
        assert "Recreate" not in c("up", "-d").stderr
        assert _ids(t, project) == ids
        (tmp_path / "compose.yaml").write_text(SHARED.format(gen=2))
        c("up", "-d")
        again = _ids(t, project)
        assert again[f"{project}-db-1"] != ids[f"{project}-db-1"]
        assert again[f"{project}-side-1"] != ids[f"{project}-side-1"]
        assert network_mode(f"{project}-side-1").startswith(
            f"container:{again[f'{project}-db-1']}")  # fmt: skip
    finally:
        t.compose("-p", project, "down", "-t", "0", cwd=tmp_path)


@pytest.mark.parametrize("target", ["dockyard-compose"], indirect=True)
def test_ctrl_c_taken_by_another_thread_still_stops_the_project(
    target: Target, tmp_path: Path
) -> None:
    """The kernel may hand a process's SIGINT to any of its threads; a log reader's thread
    taking it must still stop the project (the main thread slept in a lock's wait until a
    container ended: the test above hung once under a CPU burner, alive after 60 s, and
    this is a way it can). Sent to a reader thread on purpose (tgkill)."""
    import ctypes
    import os
    import signal

    t = target
    project = "dyt" + uuid.uuid4().hex[:8]
    up = _up_attached(t, project, tmp_path)
    try:
        others = [int(tid) for tid in os.listdir(f"/proc/{up.pid}/task") if int(tid) != up.pid]
        assert others, "compose up runs its log readers in threads"
        sys_tgkill = 234  # x86_64
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.syscall(sys_tgkill, up.pid, others[0], signal.SIGINT) == 0
        assert up.wait(30) == 130
        state = t.docker("inspect", "-f", "{{.State.Status}}", f"{project}-a-1").stdout.strip()
        assert state == "exited"
    finally:
        end_group(up)
        t.compose("-p", project, "down", "-t", "0", cwd=tmp_path)
