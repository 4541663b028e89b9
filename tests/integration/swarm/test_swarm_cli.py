"""Single-node swarm through the official docker CLI: init, nodes, services (create,
scale, update, rm), tasks as containers with swarm's names and labels, secrets."""

from __future__ import annotations

import json

from tests.conftest import Daemon
from tests.integration.swarm.conftest import init_swarm, tasks, wait_for


def running(d: Daemon, service: str) -> list[dict]:
    return [t for t in tasks(d, service)
            if t["Status"]["State"] == "running" and t["DesiredState"] == "running"]  # fmt: skip


def test_swarm_init_node_ls_info(node: Daemon) -> None:
    r = node.docker("service", "ls")
    assert r.returncode != 0 and "This node is not a swarm manager" in r.stderr
    out = init_swarm(node)
    assert "Swarm initialized: current node (" in out
    assert "docker swarm join --token SWMTKN-1-" in out
    again = node.docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    assert again.returncode != 0 and "This node is already part of a swarm" in again.stderr
    info = json.loads(node.docker("info", "--format", "{{json .Swarm}}", check=True).stdout)
    assert info["LocalNodeState"] == "active" and info["ControlAvailable"] is True
    assert info["Nodes"] == 1 and info["Managers"] == 1
    ls = node.docker("node", "ls", "--format", "{{.Self}} {{.Status}} {{.Availability}} "
                     "{{.ManagerStatus}}", check=True).stdout.split()  # fmt: skip
    assert ls == ["true", "Ready", "Active", "Leader"]
    token = node.docker("swarm", "join-token", "-q", "worker", check=True).stdout.strip()
    assert token.startswith("SWMTKN-1-")


def test_service_create_scale_rm(node: Daemon) -> None:
    r = node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "web", "--replicas", "3",
                    "busybox", "sleep", "1000", timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    got = wait_for(
        "3 running tasks", lambda: len(running(node, "web")) == 3 and running(node, "web")
    )
    slots = sorted(t["Slot"] for t in got)  # type: ignore[union-attr]
    assert slots == [1, 2, 3]
    ls = node.docker("service", "ls", "--format", "{{.Name}} {{.Mode}} {{.Replicas}}",
                     check=True).stdout.split("\n")[0]  # fmt: skip
    assert ls == "web replicated 3/3"
    names = node.docker("ps", "--format", "{{.Names}}", "--filter",
                        "label=com.docker.swarm.service.name=web", check=True).stdout.split()  # fmt: skip
    assert len(names) == 3 and all(n.startswith("web.") and n.count(".") == 2 for n in names)
    assert node.docker("service", "scale", "web=5", "--detach", check=True).returncode == 0
    wait_for("5 running", lambda: len(running(node, "web")) == 5)
    node.docker("service", "scale", "web=1", "--detach", check=True)
    wait_for("1 running", lambda: len(running(node, "web")) == 1)
    wait_for(
        "scaled-down containers stopped",
        lambda: (
            len(
                node.docker(
                    "ps", "-q", "--filter", "label=com.docker.swarm.service.name=web"
                ).stdout.split()
            )
            == 1
        ),
    )
    assert node.docker("service", "rm", "web", check=True).returncode == 0
    wait_for(
        "containers removed",
        lambda: (
            not node.docker(
                "ps", "-aq", "--filter", "label=com.docker.swarm.service.name=web"
            ).stdout.split()
        ),
    )
    r = node.docker("service", "inspect", "web")
    assert r.returncode != 0 and "no such service: web" in r.stderr.lower()


def test_failed_task_restarts_and_ps_shows_it(node: Daemon) -> None:
    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "crash", "--restart-delay", "0s",
                "busybox", "sh", "-c", "exit 3", check=True)  # fmt: skip
    failed = wait_for(
        "a failed task",
        lambda: [t for t in tasks(node, "crash") if t["Status"]["State"] == "failed"],
    )
    assert failed[0]["Status"]["Err"] == "task: non-zero exit (3)"  # type: ignore[index]
    wait_for("a replacement in the same slot", lambda: len(tasks(node, "crash")) >= 2)
    node.docker("service", "rm", "crash", check=True)


def test_update_out_of_sequence_and_rolling_update(node: Daemon) -> None:
    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "upd", "--replicas", "2",
                "busybox", "sleep", "1000", check=True)  # fmt: skip
    wait_for("2 running", lambda: len(running(node, "upd")) == 2)
    svc = json.loads(node.docker("service", "inspect", "upd", check=True).stdout)[0]
    node.docker("service", "update", "--detach", "--no-resolve-image", "--env-add", "A=1",
                "--update-order", "start-first", "upd", check=True)  # fmt: skip
    wait_for(
        "2 updated tasks running",
        lambda: (
            [
                t
                for t in running(node, "upd")
                if "A=1" in (t["Spec"]["ContainerSpec"].get("Env") or [])
            ]
            if len(running(node, "upd")) == 2
            else None
        ),
    )
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(node.sock)

    c = Conn("localhost")
    c.request("POST", f"/services/{svc['ID']}/update?version={svc['Version']['Index']}",
              body=json.dumps(svc["Spec"]), headers={"Content-Type": "application/json"})  # fmt: skip
    resp = c.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 500
    assert body["message"] == "rpc error: code = Unknown desc = update out of sequence"
    node.docker("service", "rm", "upd", check=True)


def test_secret_in_task(node: Daemon) -> None:
    r = node.docker("secret", "create", "pw", "-", input=b"s3cret\n")
    assert r.returncode == 0, r.stderr
    ls = node.docker("secret", "ls", "--format", "{{.Name}}", check=True).stdout.split()
    assert ls == ["pw"]
    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "sec", "--secret", "pw",
                "busybox", "sleep", "1000", check=True)  # fmt: skip
    t = wait_for("running", lambda: running(node, "sec"))[0]  # type: ignore[index]
    cid = t["Status"]["ContainerStatus"]["ContainerID"]
    cat = node.docker("exec", cid, "cat", "/run/secrets/pw", check=True)
    assert cat.stdout == "s3cret\n"
    mounts = node.docker("exec", cid, "grep", "/run/secrets/pw", "/proc/mounts", check=True)
    assert "tmpfs" in mounts.stdout
    r = node.docker("secret", "rm", "pw")
    assert r.returncode != 0 and "is in use by the following service: sec" in r.stderr
    node.docker("service", "rm", "sec", check=True)
    assert node.docker("secret", "rm", "pw").returncode == 0


def test_bad_input(node: Daemon) -> None:
    r = node.docker("service", "create", "--no-resolve-image", "--name", "bad", "--constraint", "node.role~x",
                    "busybox", "sleep", "1")  # fmt: skip
    assert r.returncode != 0 and "constraint expected one operator from ==, !=" in r.stderr
    r = node.docker(
        "service", "create", "--no-resolve-image", "--name", "bad", "--secret", "nope", "busybox"
    )
    assert r.returncode != 0 and "secret not found: nope" in r.stderr
    self_id = node.docker("node", "ls", "-q", check=True).stdout.strip()
    r = node.docker("node", "rm", self_id)
    assert r.returncode != 0 and "is not down and can't be removed" in r.stderr
    assert node.docker("service", "ls", "-q", check=True).stdout.strip() == ""


def test_daemon_restart_keeps_the_swarm_and_its_tasks(node: Daemon) -> None:
    from tests.conftest import start_daemon, stop_daemon

    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "keep", "--replicas", "2",
                "busybox", "sleep", "100000", check=True)  # fmt: skip
    before = {
        t["ID"]
        for t in wait_for(
            "2 running", lambda: len(running(node, "keep")) == 2 and running(node, "keep")
        )
    }  # type: ignore[union-attr]
    stop_daemon(node)
    node.proc = start_daemon(node.root).proc
    assert node.docker("node", "ls", "-q", check=True).stdout.strip()
    after = wait_for(
        "2 running again", lambda: len(running(node, "keep")) == 2 and running(node, "keep")
    )
    assert {t["ID"] for t in after} == before  # type: ignore[union-attr]
    node.docker("service", "rm", "keep", check=True)


def test_service_logs(node: Daemon) -> None:
    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "talk",
                "--replicas", "2", "--restart-condition", "none",
                "busybox", "sh", "-c", "echo hello from $HOSTNAME", check=True)  # fmt: skip
    wait_for(
        "2 complete",
        lambda: sum(t["Status"]["State"] == "complete" for t in tasks(node, "talk")) == 2,
    )
    out = node.docker("service", "logs", "--no-trunc", "talk", check=True).stdout.splitlines()
    assert len(out) == 2
    assert all(line.startswith("talk.") and "@" in line and "| hello from " in line
               for line in out), out  # fmt: skip
    node.docker("service", "rm", "talk", check=True)


def test_update_and_rollback_complete(node: Daemon) -> None:
    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "rb",
                "--replicas", "2", "--stop-grace-period", "1s", "busybox", "sleep", "100000",
                check=True)  # fmt: skip
    r = node.docker("service", "update", "--no-resolve-image", "--env-add", "A=1", "rb",
                    timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr  # the CLI waits for the update to complete
    status = json.loads(node.docker("service", "inspect", "rb", check=True).stdout)[0]
    assert status["UpdateStatus"]["State"] == "completed"
    assert [t["Spec"]["ContainerSpec"]["Env"] for t in running(node, "rb")] == [["A=1"]] * 2
    r = node.docker("service", "rollback", "rb", timeout=120)
    assert r.returncode == 0 and "rollback: manually requested rollback" in r.stdout
    svc = json.loads(node.docker("service", "inspect", "rb", check=True).stdout)[0]
    assert svc["UpdateStatus"]["State"] == "rollback_completed"
    assert "Env" not in svc["Spec"]["TaskTemplate"]["ContainerSpec"]
    node.docker("service", "rm", "rb", check=True)


def test_publish_mode_host(node: Daemon) -> None:
    from tests.conformance.conftest import free_ports

    (port,) = free_ports(1)
    # the routing mesh is tested on hosts of their own (test_mesh.py): here, dockerd's refusal
    r = node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "mesh",
                    "--endpoint-mode", "dnsrr", "--publish", "8080:80", "busybox")  # fmt: skip
    assert r.returncode != 0 and "can't be used with dnsrr mode" in r.stderr, r.stderr
    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "hp",
                "--publish", f"published={port},target=80,mode=host",
                "busybox", "sh", "-c", "echo hi-from-task > /i && httpd -f -p 80 -h /",
                check=True)  # fmt: skip
    t = wait_for("running", lambda: running(node, "hp"))[0]  # type: ignore[index]
    cid = t["Status"]["ContainerStatus"]["ContainerID"]
    ports = node.docker("port", cid, check=True).stdout
    assert f"80/tcp -> 0.0.0.0:{port}" in ports

    body = wait_for("an answer on the host port", lambda: _get(f"http://127.0.0.1:{port}/i"))
    assert body == b"hi-from-task\n"
    node.docker("service", "rm", "hp", check=True)


def _get(url: str) -> bytes | None:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read()
    except OSError:
        return None


def test_reservation_beyond_the_node_stays_pending(node: Daemon) -> None:
    """--reserve-cpu more than the node has: pending with swarmkit's reason in service ps;
    a reservation that fits runs."""
    ncpu = int(node.docker("info", "--format", "{{.NCPU}}", check=True).stdout)
    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "big",
                "--reserve-cpu", str(ncpu + 1), "busybox", "sleep", "100000", check=True)  # fmt: skip
    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "small",
                "--reserve-memory", "1MB", "busybox", "sleep", "100000", check=True)  # fmt: skip
    wait_for("small running", lambda: [t for t in tasks(node, "small")
                                       if t["Status"]["State"] == "running"])  # fmt: skip
    ps = wait_for("big pending with a reason", lambda: (lambda out: out if "insufficient" in out else None)(
        node.docker("service", "ps", "--no-trunc", "--format", "{{.CurrentState}} {{.Error}}", "big",
                    check=True).stdout))  # fmt: skip
    assert "Pending" in ps and '"no suitable node (insufficient resources on 1 node)"' in ps  # type: ignore[operator]
    node.docker("service", "rm", "big", "small", check=True)


def test_update_failure_action_pause_and_rollback(node: Daemon) -> None:
    """A new spec whose tasks exit at once: --update-failure-action pause stops the update
    with swarmkit's message; rollback brings the previous spec back and completes."""

    def update_status(name: str) -> dict:  # type: ignore[type-arg]
        svc = json.loads(node.docker("service", "inspect", name, check=True).stdout)[0]
        return svc.get("UpdateStatus") or {}

    for action, final in (("pause", "paused"), ("rollback", "rollback_completed")):
        name = f"fail{action}"
        node.docker("service", "create", "--detach", "--no-resolve-image", "--name", name,
                    "--replicas", "2", "--stop-grace-period", "1s", "--restart-delay", "1s",
                    "busybox", "sleep", "100000", check=True)  # fmt: skip
        wait_for("2 running", lambda n=name: len(running(node, n)) == 2)  # type: ignore[misc]
        node.docker("service", "update", "--detach", "--no-resolve-image",
                    "--update-failure-action", action, "--update-monitor", "10s",
                    "--update-parallelism", "1", "--args", "sh -c 'exit 3'", name,
                    check=True)  # fmt: skip
        st = wait_for(f"update {final}", lambda n=name, f=final: (  # type: ignore[misc]
            lambda s: s if s.get("State") == f else None)(update_status(n)))  # fmt: skip
        if action == "pause":
            assert st["Message"].startswith(  # type: ignore[index]
                "update paused due to failure or early termination of task "
            )
            svc = json.loads(node.docker("service", "inspect", name, check=True).stdout)[0]
            assert svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"] == ["sh", "-c", "exit 3"]
        else:
            svc = json.loads(node.docker("service", "inspect", name, check=True).stdout)[0]
            assert svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"] == ["sleep", "100000"]
            wait_for("the old spec running twice", lambda n=name: len(running(node, n)) == 2)  # type: ignore[misc]
        node.docker("service", "rm", name, check=True)


def test_unhealthy_task_is_replaced(node: Daemon) -> None:
    """A task whose health check fails is killed, fails with dockerd's error and is
    replaced in its slot by the restart policy."""
    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "sick",
                "--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1",
                "--restart-delay", "1s", "busybox", "sleep", "100000", check=True)  # fmt: skip
    failed = wait_for("an unhealthy task failed", lambda: [
        t for t in tasks(node, "sick") if t["Status"]["State"] == "failed"], timeout=90)  # fmt: skip
    err = failed[0]["Status"]["Err"]  # type: ignore[index]
    assert err.startswith("task: non-zero exit (") and err.endswith(
        "): dockerexec: unhealthy container"
    )
    wait_for("a replacement in slot 1", lambda: len(tasks(node, "sick")) >= 2)
    node.docker("service", "rm", "sick", check=True)


def test_replicated_job_max_concurrent(node: Daemon) -> None:
    """--mode replicated-job --replicas 4 --max-concurrent 2: never more than two tasks
    run at once, and the job ends with four completions."""
    node.docker("service", "create", "--detach", "--no-resolve-image", "--name", "job",
                "--mode", "replicated-job", "--replicas", "4", "--max-concurrent", "2",
                "busybox", "sleep", "3", check=True)  # fmt: skip
    most = 0

    def finished() -> bool:
        nonlocal most
        ts = tasks(node, "job")
        most = max(most, sum(t["Status"]["State"] == "running" for t in ts))
        return sum(t["Status"]["State"] == "complete" for t in ts) == 4

    wait_for("four completions", finished, timeout=120)
    assert 1 <= most <= 2, most
    assert len(tasks(node, "job")) == 4
    node.docker("service", "rm", "job", check=True)
