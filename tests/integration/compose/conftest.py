"""Front-ends and daemons for the compose tests.

`target` runs a scenario three ways: the official docker CLI's `docker compose`
(through our plugin, found via a private DOCKER_CONFIG's `cliPluginsExtraDirs`)
and `dockyard compose`, both against the session's dockyardd; and `docker compose`
against a peer dockerd on its own socket, data root, exec root and pid file, with
no default bridge (skipped when dockerd is missing or we are not root).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BIN, BUSYBOX_PATH, Daemon
from tests.peers import peer_process


@dataclass
class Target:
    """How to run compose against one daemon."""

    name: str
    host: str
    argv: list[str]
    env: dict[str, str]

    def compose(self, *args: str, cwd: Path, timeout: float = 240,
                input: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return subprocess.run([*self.argv, *args], cwd=cwd, env=self.env, capture_output=True,
                              text=True, timeout=timeout, input=input)  # fmt: skip

    def compose_ok(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """`compose(*args)`, which must succeed; a failure shows both streams."""
        r = self.compose(*args, cwd=cwd)
        assert r.returncode == 0, f"{args} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def docker(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip


def plugin_config(root: Path) -> Path:
    """A DOCKER_CONFIG whose config.json points the docker CLI at our plugin."""
    plugins = root / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "docker-compose"
    if not link.exists():
        link.symlink_to(BIN / "dockyard-compose-plugin")
    (root / "config.json").write_text(json.dumps({"cliPluginsExtraDirs": [str(plugins)]}))
    return root


def _env(host: str, config: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DOCKER_HOST": host, "DOCKYARD_HOST": host, "DOCKER_CONFIG": str(config),
                "DOCKER_CLI_HINTS": "false", "COMPOSE_PROGRESS": "plain"})  # fmt: skip
    for key in ("DOCKER_CONTEXT", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"):
        env.pop(key, None)
    return env


@pytest.fixture(scope="session")
def peer_dockerd(busybox_rootfs_tar: Path) -> Iterator[str]:
    with peer_process("dy-compose-") as peer:
        env = {**os.environ, "DOCKER_HOST": peer.host}
        r = subprocess.run(
            ["docker", "import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
             str(busybox_rootfs_tar), "busybox:latest"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        yield peer.host


@pytest.fixture(params=["docker-compose-plugin", "dockyard-compose", "peer-dockerd"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Target:
    config = plugin_config(tmp_path_factory.mktemp("docker-config"))
    if request.param == "peer-dockerd":
        host = request.getfixturevalue("peer_dockerd")
        return Target(request.param, host, ["docker", "compose"], _env(host, config))
    daemon: Daemon = request.getfixturevalue("daemon")
    argv = ["docker", "compose"] if request.param == "docker-compose-plugin" else [
        str(BIN / "dockyard"), "compose"]  # fmt: skip
    return Target(request.param, daemon.host, argv, _env(daemon.host, config))
