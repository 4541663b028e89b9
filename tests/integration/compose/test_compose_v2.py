"""Compose v2 in Python: `docker compose` (the official CLI through our plugin) and
`dockyard compose` against dockyardd, and `docker compose` against a peer dockerd,
on a multi-service app: a build with args, a job gating a healthcheck-gated web
(`depends_on` conditions), two networks with isolation, a named volume surviving
`down`/`up`, a published port answering on the host, `--scale`, `exec`, `logs -f`,
`run --rm`, `config`, an unchanged `up` recreating nothing, `down -v` leaving nothing.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.integration.compose.conftest import Target
from tests.integration.compose.proc import end_group

pytestmark = pytest.mark.integration

APP = """\
services:
  seed:
    build:
      context: ./seed
      args:
        GREETING: hello-from-build
    volumes: [site:/www]
    command: ["sh", "-c", "cat /greeting > /www/index.html"]
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes: [site:/www]
    ports: ["127.0.0.1:{port}:8080"]
    networks: [front, back]
    stop_signal: SIGKILL
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:8080/index.html"]
      interval: 1s
      retries: 60
    depends_on:
      seed:
        condition: service_completed_successfully
  db:
    image: busybox
    command: ["sh", "-c", "echo db-ready; exec sleep 1000"]
    networks: [back]
    stop_signal: SIGKILL
  client:
    image: busybox
    command: ["sh", "-c", "wget -qO- http://web:8080/index.html; echo; exec sleep 1000"]
    networks: [front]
    stop_signal: SIGKILL
    depends_on:
      web:
        condition: service_healthy
networks:
  front: {{}}
  back: {{}}
volumes:
  site: {{}}
"""

DOCKERFILE = """\
FROM busybox
ARG GREETING=unset
RUN echo "$GREETING" > /greeting
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, f"{r.args} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def _poll(check, what: str, timeout: float = 60) -> object:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _project_objects(t: Target, project: str) -> dict[str, str]:
    label = f"label=com.docker.compose.project={project}"
    return {
        "containers": t.docker("ps", "-aq", "--filter", label).stdout.strip(),
        "networks": t.docker("network", "ls", "-q", "--filter", label).stdout.strip(),
        "volumes": t.docker("volume", "ls", "-q", "--filter", label).stdout.strip(),
    }


def _ids(t: Target, project: str) -> dict[str, str]:
    out = t.docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                   "--format", "{{.Names}} {{.ID}}").stdout  # fmt: skip
    return dict(line.split() for line in out.splitlines())


def test_multi_service_app(target: Target, tmp_path: Path) -> None:
    t = target
    project = "dyc" + uuid.uuid4().hex[:8]
    port = _free_port()
    (tmp_path / "compose.yaml").write_text(APP.format(port=port))
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "Dockerfile").write_text(DOCKERFILE)

    def c(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return t.compose("-p", project, *args, cwd=tmp_path, **kw)  # type: ignore[arg-type]

    try:
        assert _ok(c("config", "--services")).split() == ["client", "db", "seed", "web"]
        config = json.loads(_ok(c("config", "--format", "json")))
        assert config["name"] == project
        assert config["services"]["web"]["ports"] == [
            {"mode": "ingress", "host_ip": "127.0.0.1", "target": 8080,
             "published": str(port), "protocol": "tcp"}]  # fmt: skip
        assert config["networks"]["front"]["name"] == f"{project}_front"

        up = c("up", "-d")
        _ok(up)
        # the job ran before web started, web was healthy before client started
        events = up.stderr
        assert events.index(f"{project}-seed-1  Exited") < events.index(f"{project}-web-1  Started")
        assert events.index(f"{project}-web-1  Healthy") < events.index(
            f"{project}-client-1  Started"
        )

        # the build argument reached the image, the job the volume, httpd the host port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as resp:
            assert resp.read().decode().strip() == "hello-from-build"
        _poll(lambda: "hello-from-build" in c("logs", "client").stdout, "client's log")
        assert "client-1  | hello-from-build" in c("logs", "client").stdout

        # two networks: web reaches db (back) and client (front); client does not see db
        _ok(c("exec", "-T", "web", "ping", "-c1", "-W2", "db"))
        _ok(c("exec", "-T", "client", "ping", "-c1", "-W2", "web"))
        isolated = c("exec", "-T", "client", "ping", "-c1", "-W2", "db")
        assert isolated.returncode != 0

        # an unchanged `up` recreates nothing
        before = _ids(t, project)
        _ok(c("up", "-d"))
        assert _ids(t, project) == before

        # --scale, then run --rm leaves no one-off container behind
        _ok(c("up", "-d", "--scale", "client=2", "--no-recreate"))
        clients = [n for n in _ids(t, project) if "-client-" in n]
        assert sorted(clients) == [f"{project}-client-1", f"{project}-client-2"]
        ps = [json.loads(line) for line in _ok(c("ps", "--format", "json")).splitlines()]
        assert sorted(p["Service"] for p in ps) == ["client", "client", "db", "web"]
        run = c("run", "--rm", "--no-deps", "client", "echo", "one-off")
        assert _ok(run).strip().endswith("one-off")
        assert not [n for n in _ids(t, project) if "-run-" in n]

        # logs -f streams with prefixes until stopped
        follow = subprocess.Popen([*t.argv, "-p", project, "logs", "-f", "--no-color", "db"],
                                  cwd=tmp_path, env=t.env, stdout=subprocess.PIPE, text=True,
                                  start_new_session=True)  # fmt: skip
        try:
            assert follow.stdout is not None
            line = follow.stdout.readline()
            assert line.startswith("db-1") and line.rstrip().endswith("| db-ready")
            assert follow.poll() is None  # still following
        finally:
            end_group(follow)

        # the named volume survives down and up
        _ok(c("exec", "-T", "web", "sh", "-c", "echo persisted > /www/mark"))
        _ok(c("down"))
        assert _project_objects(t, project)["containers"] == ""
        assert _project_objects(t, project)["volumes"] != ""
        _ok(c("up", "-d", "web"))
        assert _ok(c("exec", "-T", "web", "cat", "/www/mark")).strip() == "persisted"
    finally:
        down = c("down", "-v", "--rmi", "local", "-t", "1")
    _ok(down)
    assert _project_objects(t, project) == {"containers": "", "networks": "", "volumes": ""}
    assert t.docker("image", "inspect", f"{project}-seed").returncode != 0
