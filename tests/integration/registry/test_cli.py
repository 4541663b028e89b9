"""Our own CLI: `dockyard push/pull/login/logout` against dockyardd, and
`dockyard registry serve` / `dockyard registry gc`."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from tests.conftest import Daemon
from tests.integration.registry.peers import Registry, free_port

BIN = Path(sys.executable).parent


def dockyard(
    daemon: Daemon, cfg: Path, *args: str, input: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    env = daemon.env()
    env["DOCKYARD_CONFIG"] = str(cfg)
    p = subprocess.run(
        [str(BIN / "dockyard"), *args], env=env, input=input, capture_output=True, timeout=120
    )
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(), p.stderr.decode())


def test_cli_push_pull(daemon: Daemon, ours: Registry, tmp_path: Path) -> None:
    ref = f"{ours.addr}/cli/bb{uuid.uuid4().hex[:8]}:v1"
    daemon.docker("tag", "busybox:latest", ref, check=True)
    try:
        r = dockyard(daemon, tmp_path, "push", ref)
        assert r.returncode == 0, r.stderr
        assert "digest: sha256:" in r.stdout
        daemon.docker("rmi", ref, check=True)
        r = dockyard(daemon, tmp_path, "pull", ref)
        assert r.returncode == 0, r.stderr
        assert "Status: Downloaded newer image" in r.stdout
        r = dockyard(daemon, tmp_path, "pull", "-q", ref)
        assert r.returncode == 0 and r.stdout.strip() == ref
        r = dockyard(daemon, tmp_path, "pull", "busybox")
        assert r.returncode == 1 and "Docker Hub" in r.stderr
    finally:
        daemon.docker("rmi", "-f", ref)


def test_cli_login_logout(daemon: Daemon, basic_registry: Registry, tmp_path: Path) -> None:
    r = dockyard(
        daemon,
        tmp_path,
        "login",
        "-u",
        "alice",
        "--password-stdin",
        basic_registry.addr,
        input=b"nope\n",
    )
    assert r.returncode == 1
    r = dockyard(
        daemon,
        tmp_path,
        "login",
        "-u",
        "alice",
        "--password-stdin",
        basic_registry.addr,
        input=b"s3cret\n",
    )
    assert r.returncode == 0 and "Login Succeeded" in r.stdout, r.stderr
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert basic_registry.addr in cfg["auths"]
    ref = f"{basic_registry.addr}/alice/cli{uuid.uuid4().hex[:8]}:1"
    daemon.docker("tag", "busybox:latest", ref, check=True)
    try:
        r = dockyard(daemon, tmp_path, "push", ref)
        assert r.returncode == 0, r.stderr
    finally:
        daemon.docker("rmi", "-f", ref)
    r = dockyard(daemon, tmp_path, "logout", basic_registry.addr)
    assert "Removing login credentials" in r.stdout
    assert basic_registry.addr not in json.loads((tmp_path / "config.json").read_text())["auths"]


def _sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def test_registry_serve_and_gc(tmp_path: Path) -> None:
    port = free_port()
    root = tmp_path / "store"
    proc = subprocess.Popen(
        [str(BIN / "dockyard"), "registry", "serve", "--addr", f"127.0.0.1:{port}", "--root", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(base + "/v2/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        kept, orphan, cfg = (
            os.urandom(100),
            os.urandom(100),
            b'{"architecture":"amd64","os":"linux"}',
        )
        for b in (kept, orphan, cfg):
            assert (
                requests.post(f"{base}/v2/g/r/blobs/uploads/?digest={_sha(b)}", data=b).status_code
                == 201
            )
        m = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _sha(cfg), "size": len(cfg)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _sha(kept), "size": 100}],
        }).encode()  # fmt: skip
        r = requests.put(
            f"{base}/v2/g/r/manifests/t",
            data=m,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert r.status_code == 201
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    r = subprocess.run(
        [str(BIN / "dockyard"), "registry", "gc", "--root", str(root), "--dry-run"],
        capture_output=True,
        text=True,
    )
    assert f"blob eligible for deletion: {_sha(orphan)}" in r.stdout
    assert (root / "blobs" / "sha256" / _sha(orphan)[7:9] / _sha(orphan)[7:] / "data").exists()
    r = subprocess.run(
        [str(BIN / "dockyard"), "registry", "gc", "--root", str(root)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert not (root / "blobs" / "sha256" / _sha(orphan)[7:9] / _sha(orphan)[7:]).exists()
    for d in (kept, cfg, m):
        assert (root / "blobs" / "sha256" / _sha(d)[7:9] / _sha(d)[7:] / "data").exists()


def test_cli_credential_helper(daemon: Daemon, basic_registry: Registry, tmp_path: Path) -> None:
    """With `credsStore`, login stores through `docker-credential-<name> store` and
    pull reads through `get`, as docker runs helpers; config.json holds no secret."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = tmp_path / "helper-store.json"
    helper = bindir / "docker-credential-dytest"
    helper.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"path = {str(store)!r}\n"
        "try:\n    data = json.load(open(path))\nexcept FileNotFoundError:\n    data = {}\n"
        "op = sys.argv[1]\n"
        "if op == 'store':\n    d = json.load(sys.stdin); data[d['ServerURL']] = d\n"
        "elif op == 'get':\n"
        "    host = sys.stdin.read().strip()\n"
        "    if host not in data:\n        print('credentials not found'); sys.exit(1)\n"
        "    print(json.dumps(data[host])); sys.exit(0)\n"
        "elif op == 'erase':\n    data.pop(sys.stdin.read().strip(), None)\n"
        "json.dump(data, open(path, 'w'))\n"
    )
    helper.chmod(0o755)
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"credsStore": "dytest"}))
    env = daemon.env()
    env["DOCKYARD_CONFIG"] = str(cfg)
    env["PATH"] = f"{bindir}:{env['PATH']}"

    def run(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(BIN / "dockyard"), *args], env=env, input=input, capture_output=True, timeout=120
        )

    r = run("login", "-u", "alice", "--password-stdin", basic_registry.addr, input=b"s3cret\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(store.read_text())[basic_registry.addr]["Secret"] == "s3cret"
    assert "s3cret" not in (cfg / "config.json").read_text()
    ref = f"{basic_registry.addr}/alice/helper{uuid.uuid4().hex[:8]}:1"
    daemon.docker("tag", "busybox:latest", ref, check=True)
    try:
        assert run("push", ref).returncode == 0
        daemon.docker("rmi", ref, check=True)
        r = run("pull", ref)
        assert r.returncode == 0, r.stderr
    finally:
        daemon.docker("rmi", "-f", ref)
    run("logout", basic_registry.addr)
    assert basic_registry.addr not in json.loads(store.read_text())
