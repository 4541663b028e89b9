"""The dockyard CLI (issue 12): its help lists every command it has, and `port`,
`container prune`, `system prune` and `exec --env-file` print what the official
docker CLI prints against the same daemon."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

from tests.conftest import BIN, Daemon


def test_help_lists_every_command(daemon: Daemon) -> None:
    from dockyard.cli.main import _MODULES

    shown = set(re.findall(r"^  (\S+)\s", daemon.dockyard("--help", check=True).stdout, re.M))
    missing = sorted(c for c in _MODULES if " " not in c and c not in shown)
    assert not missing


def test_port_as_docker_prints_it(daemon: Daemon) -> None:
    name = f"cli-port-{uuid.uuid4().hex[:8]}"
    daemon.docker("run", "-d", "--name", name, "-p", "127.0.0.1::80", "-p", "53/udp",
                  "busybox", "sleep", "300", check=True)  # fmt: skip
    try:
        for args in ([name], [name, "80"], [name, "53/udp"]):
            ours = daemon.dockyard("port", *args, check=True).stdout
            theirs = daemon.docker("port", *args, check=True).stdout
            assert ours and sorted(ours.splitlines()) == sorted(theirs.splitlines()), args
        ours = daemon.dockyard("port", name, "81")
        theirs = daemon.docker("port", name, "81")
        assert ours.returncode == theirs.returncode == 1
        assert ours.stderr == theirs.stderr
        assert daemon.dockyard("container", "port", name, check=True).stdout
    finally:
        daemon.docker("rm", "-f", name)


def _exited(daemon: Daemon, label: str) -> str:
    return daemon.docker("run", "--label", label, "--network", "none", "busybox", "true",
                         check=True).stdout  # fmt: skip


def test_container_and_system_prune(daemon: Daemon) -> None:
    label = f"cli-prune-{uuid.uuid4().hex[:8]}"
    for cli in (daemon.dockyard, daemon.docker):
        _exited(daemon, label)
        ids = daemon.docker("ps", "-aq", "--no-trunc", "-f", f"label={label}").stdout.split()
        out = cli("container", "prune", "-f", "--filter", f"label={label}", check=True).stdout
        assert out == f"Deleted Containers:\n{ids[0]}\n\nTotal reclaimed space: 0B\n"
    # (docker's system prune sends the label filter to /build/prune too, which refuses it)
    for cli in (daemon.dockyard,):
        _exited(daemon, label)
        ids = daemon.docker("ps", "-aq", "--no-trunc", "-f", f"label={label}").stdout.split()
        out = cli("system", "prune", "-f", "--filter", f"label={label}", check=True).stdout
        assert out.startswith(f"Deleted Containers:\n{ids[0]}\n\n"), out
        assert out.endswith("Total reclaimed space: 0B\n")


def test_exec_env_file(daemon: Daemon, tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.write_text("# a comment\nFROM_FILE=yes\nOVER=file\n")
    name = f"cli-exec-{uuid.uuid4().hex[:8]}"
    daemon.docker("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300",
                  check=True)  # fmt: skip
    try:
        for cli in (daemon.dockyard, daemon.docker):
            out = cli("exec", "--env-file", str(env), "-e", "OVER=flag", name, "sh", "-c",
                      "echo $FROM_FILE $OVER", check=True).stdout  # fmt: skip
            assert out == "yes flag\n"
    finally:
        daemon.docker("rm", "-f", name)


def test_builder_prune(daemon: Daemon, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nRUN echo {marker} > /m\n")
    tag = f"cli-bp-{marker[:8]}"
    try:
        daemon.docker("build", "-q", "-t", tag, str(tmp_path), check=True)
        ours = daemon.dockyard("builder", "prune", "-af", check=True).stdout
        assert ours.startswith("Deleted build cache objects:\n"), ours
        assert ours.endswith("\n\nTotal reclaimed space: 0B\n"), ours
        again = daemon.dockyard("builder", "prune", "-f", check=True).stdout
        assert again == daemon.docker("builder", "prune", "-f", check=True).stdout
    finally:
        daemon.docker("rmi", "-f", tag)


def test_build_resource_flags(daemon: Daemon, tmp_path: Path) -> None:
    """RUN steps get the build's limits (dockerd's classic builder: memory, shm-size...)."""
    marker = uuid.uuid4().hex
    (tmp_path / "Dockerfile").write_text(
        f"FROM busybox\nRUN echo {marker}; cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
        "/sys/fs/cgroup/cpu/cpu.shares > /limits; df -k /dev/shm | tail -1 >> /limits\n"
    )
    for cli, tag in ((daemon.dockyard, f"cli-res-{marker[:8]}"),
                     (daemon.docker, f"cli-res2-{marker[:8]}")):  # fmt: skip
        try:
            cli("build", "--no-cache", "-q", "-m", "64m", "--cpu-shares", "256",
                "--shm-size", "32m", "-t", tag, str(tmp_path), check=True)  # fmt: skip
            out = daemon.docker("run", "--rm", tag, "cat", "/limits", check=True).stdout.split("\n")
            assert out[0] == str(64 << 20) and out[1] == "256", out
            assert out[2].split()[1] == str(32 << 10), out
        finally:
            daemon.docker("rmi", "-f", tag)


def test_context_ls_and_show(daemon: Daemon, tmp_path: Path) -> None:
    env = {**daemon.env(), "DOCKER_CONFIG": str(tmp_path)}
    env.pop("DOCKER_HOST")
    env["DOCKYARD_HOST"] = "unix:///var/run/docker.sock"  # docker's default, for the same text
    made = subprocess.run(["docker", "context", "create", "--docker", "host=unix:///tmp/y.sock",
                           "--description", "hi", "ctx1"], env=env, capture_output=True)  # fmt: skip
    assert made.returncode == 0, made.stderr
    for args in (["context", "ls"], ["context", "ls", "--format", "{{json .}}"],
                 ["context", "ls", "-q"], ["context", "show"]):  # fmt: skip
        ours = subprocess.run([str(BIN / "dockyard"), *args], env=env, capture_output=True,
                              text=True, check=True).stdout  # fmt: skip
        theirs = subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                                check=True).stdout  # fmt: skip
        assert ours == theirs, args
