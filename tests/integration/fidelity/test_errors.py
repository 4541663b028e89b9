"""Errors that must not mislead (issue 12.9), worded and coded as dockerd 20.10's:

- an unknown `--network` is refused at start with 404 "network X not found" (create
  succeeds, as dockerd's), so `docker run` does not say "Unable to find image" and pull;
- a pull without credentials from a registry that wants them is not a 401 (which
  makes the CLI prompt for a Docker Hub login): a Basic-auth registry gives dockerd's
  500 `Head "...": no basic auth credentials`, a token registry that denies the
  anonymous token gives 404 "pull access denied for ..., repository does not exist or
  may require 'docker login'".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.conftest import Daemon
from tests.integration.registry.peers import Registry, start, stop


def test_unknown_network_is_not_an_unknown_image(engine: Daemon) -> None:
    name = f"fid-nonet-{uuid.uuid4().hex[:8]}"
    try:
        r = engine.docker("run", "--name", name, "--network", "nosuchnet", "busybox", "true")
        assert r.returncode == 125
        assert "Unable to find image" not in r.stderr
        assert "network nosuchnet not found" in r.stderr, r.stderr
        # as dockerd: the container was created and stays so
        r = engine.docker("inspect", "-f", "{{.State.Status}} {{.HostConfig.NetworkMode}}", name)
        assert r.stdout.split() == ["created", "nosuchnet"]
    finally:
        engine.docker("rm", "-f", name)


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fid-auth")
    pw = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=5)).decode()
    (d / "htpasswd").write_text(f"alice:{pw}\n")
    (d / "access.yml").write_text("- {account: alice, name: 'alice/*', actions: [pull, push]}\n")
    (d / "key").write_text(uuid.uuid4().hex)
    return d


@pytest.fixture(scope="module", params=["basic", "token"])
def auth_registry(request: pytest.FixtureRequest, users: Path) -> Iterator[Registry]:
    if request.param == "basic":
        extra = f"auth:\n  htpasswd: {{realm: test, path: {users / 'htpasswd'}}}\n"
    else:
        extra = (
            "auth:\n  token:\n    service: test-registry\n    issuer: test-issuer\n"
            f"    htpasswd: {users / 'htpasswd'}\n    access: {users / 'access.yml'}\n"
            f"    key: {users / 'key'}\n"
        )
    reg = start("dockyard", extra_yaml=extra)
    try:
        yield reg
    finally:
        stop(reg)


def test_pull_after_logout_is_not_a_login_prompt(engine: Daemon, auth_registry: Registry) -> None:
    ref = f"{auth_registry.addr}/alice/fid{uuid.uuid4().hex[:6]}"
    r = engine.docker("login", "-u", "alice", "--password-stdin", auth_registry.addr,
                      input=b"s3cret\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    engine.docker("tag", "busybox", ref, check=True)
    try:
        engine.docker("push", ref, check=True, timeout=120)
        engine.docker("logout", auth_registry.addr, check=True)
        engine.docker("rmi", ref, check=True)
        r = engine.docker("pull", ref, input=b"", timeout=30)
        assert r.returncode == 1
        assert "Username" not in r.stdout + r.stderr  # no interactive login prompt
        if _is_token(auth_registry):
            assert (
                f"pull access denied for {ref}, repository does not exist or may require "
                "'docker login': denied: requested access to the resource is denied"
            ) in r.stderr, r.stderr
        else:
            # dockerd asks with HEAD first, we GET the manifest at once: either is fine
            url = f"http://{auth_registry.addr}/v2/{ref.split('/', 1)[1]}/manifests/latest"
            assert re.search(
                f'(Head|Get) "{re.escape(url)}": no basic auth credentials', r.stderr
            ), r.stderr
    finally:
        engine.docker("logout", auth_registry.addr)
        engine.docker("rmi", ref)


def _is_token(reg: Registry) -> bool:
    return "token:" in (reg.root / "config.yml").read_text()


def test_push_without_credentials(engine: Daemon, auth_registry: Registry) -> None:
    """dockerd's words for a push nobody may make: the registry's (token) or Go's
    `no basic auth credentials` alone (Basic), where a pull names the request."""
    ref = f"{auth_registry.addr}/alice/fidpush{uuid.uuid4().hex[:6]}"
    engine.docker("tag", "busybox", ref, check=True)
    try:
        r = engine.docker("push", ref, input=b"", timeout=120)
        assert r.returncode == 1
        assert "Username" not in r.stdout + r.stderr  # no interactive login prompt
        if _is_token(auth_registry):
            assert r.stderr == "denied: requested access to the resource is denied\n"
        else:  # no request named, unlike a pull's
            assert r.stderr == "no basic auth credentials\n"
    finally:
        engine.docker("rmi", ref)
