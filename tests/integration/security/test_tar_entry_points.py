"""The malicious tar corpus (tests/tarcorpus.py) through every way a tar gets
into dockyardd: ADD in a build, PUT /containers/{id}/archive (docker cp),
POST /images/load, POST /images/create?fromSrc=- (import) and a pull from
`dockyard-registry`. For each: nothing changes in the canary directory on the
host, nothing named CVE_MARKER appears anywhere under the temp dirs or the
daemon's root, and the client gets the error in Docker's form (JSON message,
or an `errorDetail` line in a stream), never a dropped connection."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.conftest import Daemon
from tests.integration.registry.peers import Registry, start, stop
from tests.tarcorpus import CVE_MARKER, Case, assert_untouched, corpus, make_outside

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
]


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_outside(tmp_path_factory.mktemp("canary"))


@pytest.fixture(scope="module")
def api(daemon: Daemon) -> Iterator[docker.APIClient]:
    c = docker.APIClient(base_url=daemon.host, version="1.41", timeout=120)
    yield c
    c.close()


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    reg = start("dockyard")
    try:
        yield reg
    finally:
        stop(reg)


def _no_marker(daemon: Daemon, outside: Path, case: str) -> None:
    assert_untouched(outside, case)
    for top in (daemon.root, outside.parent):
        for _, _, files in os.walk(top):
            assert CVE_MARKER not in files, case


def _sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _config(layers: list[bytes]) -> bytes:
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [_sha(x) for x in layers]},
        }
    ).encode()


def _docker_archive(layer: bytes, tag: str) -> bytes:
    config = _config([layer])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (
            ("blobs/sha256/" + _sha(config)[7:], config),
            ("blobs/sha256/" + _sha(layer)[7:], layer),
            ("manifest.json", json.dumps([{
                "Config": "blobs/sha256/" + _sha(config)[7:], "RepoTags": [tag],
                "Layers": ["blobs/sha256/" + _sha(layer)[7:]]}]).encode()),
        ):  # fmt: skip
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _push(reg: Registry, repo: str, layer: bytes) -> None:
    """An image whose one layer is `layer` (an uncompressed OCI layer), pushed by hand."""
    config = _config([layer])
    for blob in (layer, config):
        r = reg.req("POST", f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        loc = r.headers["Location"]
        sep = "&" if "?" in loc else "?"
        r = reg.req("PUT", f"{loc}{sep}digest={_sha(blob)}", data=blob,
                    headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert r.status_code == 201, r.text
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _sha(layer), "size": len(layer)}],
    }).encode()  # fmt: skip
    r = reg.req("PUT", f"/v2/{repo}/manifests/latest", data=manifest,
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})  # fmt: skip
    assert r.status_code == 201, r.text


def _stream_error(lines: list[dict]) -> str | None:
    errs = [x for x in lines if "error" in x]
    if not errs:
        return None
    assert errs[-1]["errorDetail"]["message"] == errs[-1]["error"]
    return str(errs[-1]["error"])


CASES = corpus(Path("/placeholder"))
IDS = [c.name for c in CASES]


def _case(outside: Path, i: int) -> Case:
    return corpus(outside)[i]


@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_add_in_a_build(daemon: Daemon, api: docker.APIClient, outside: Path, i: int) -> None:
    case = _case(outside, i)
    ctx = io.BytesIO()
    with tarfile.open(fileobj=ctx, mode="w") as tf:
        for name, data in (("Dockerfile", b"FROM busybox\nADD evil.tar /dst/\n"),
                           ("evil.tar", case.tar)):  # fmt: skip
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    ctx.seek(0)
    tag = f"tarcorpus-{uuid.uuid4().hex[:8]}"
    log_from = daemon.log_path.stat().st_size
    lines = list(api.build(fileobj=ctx, custom_context=True, tag=tag, decode=True, rm=True,
                           forcerm=True))  # fmt: skip
    err = _stream_error(lines)
    try:
        if case.plain is None:
            assert err is None, (case.name, lines)
        else:
            assert err is not None and case.plain in err, (case.name, lines)
            assert err.startswith("ADD failed: "), err
        _no_marker(daemon, outside, case.name)
    finally:
        daemon.docker("rmi", "-f", tag)
    with open(daemon.log_path, "rb") as f:
        f.seek(log_from)
        assert b"Traceback" not in f.read()


@pytest.mark.parametrize("no_overwrite", [False, True], ids=["plain", "noOverwriteDirNonDir"])
@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_put_archive(
    daemon: Daemon, api: docker.APIClient, outside: Path, i: int, no_overwrite: bool
) -> None:
    """With and without noOverwriteDirNonDir (which docker cp sends)."""
    case = _case(outside, i)
    cid = api.create_container("busybox", ["true"], name=f"tarcorpus-{uuid.uuid4().hex[:8]}")["Id"]
    params = {"path": "/"}
    if no_overwrite:
        params["noOverwriteDirNonDir"] = "true"
    try:
        r = api._put(api._url("/containers/{0}/archive", cid), params=params,
                     data=case.tar)  # fmt: skip
        if case.plain is None:
            assert r.status_code == 200, (case.name, r.text)
        else:
            assert r.status_code == 400, (case.name, r.status_code, r.text)
            assert case.plain in r.json()["message"], (case.name, r.text)
        _no_marker(daemon, outside, case.name)
    finally:
        api.remove_container(cid, force=True)


@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_load(daemon: Daemon, api: docker.APIClient, outside: Path, i: int) -> None:
    case = _case(outside, i)
    tag = f"tarcorpus-load:{uuid.uuid4().hex[:8]}"
    r = api._post(api._url("/images/load"), data=_docker_archive(case.tar, tag))
    assert r.status_code == 200, r.text
    lines = [json.loads(x) for x in r.text.splitlines() if x.strip()]
    err = _stream_error(lines)
    assert err is not None and case.layer is not None and case.layer in err, (case.name, lines)
    assert "invalid layer" in err
    _no_marker(daemon, outside, case.name)


@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_import(daemon: Daemon, api: docker.APIClient, outside: Path, i: int) -> None:
    case = _case(outside, i)
    r = api._post(api._url("/images/create"), params={"fromSrc": "-"}, data=case.tar)
    assert r.status_code == 400, (case.name, r.status_code, r.text)
    assert case.layer is not None and case.layer in r.json()["message"], (case.name, r.text)
    _no_marker(daemon, outside, case.name)


@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_pull(
    daemon: Daemon, api: docker.APIClient, registry: Registry, outside: Path, i: int
) -> None:
    case = _case(outside, i)
    repo = f"corpus/case{i}"
    _push(registry, repo, case.tar)
    lines = list(api.pull(f"{registry.addr}/{repo}", tag="latest", stream=True, decode=True))
    err = _stream_error(lines)
    assert err is not None and case.layer is not None and case.layer in err, (case.name, lines)
    _no_marker(daemon, outside, case.name)


@pytest.mark.parametrize("target", ["abs", "rel", "heredoc"])
def test_copy_into_an_image_symlink_stays_inside(
    daemon: Daemon, api: docker.APIClient, outside: Path, target: str
) -> None:
    """COPY onto a path where the base image holds a symlink to a host path: the
    link is replaced (as dockerd's untar replaces it), never written through."""
    link = str(outside) if target != "rel" else "../" * 30 + str(outside).lstrip("/")
    ctx = io.BytesIO()
    if target == "heredoc":
        dockerfile = (f"FROM busybox\nRUN mkdir -p /dst/sub && ln -s {link}/{CVE_MARKER} "
                      f"/dst/sub/{CVE_MARKER}\nCOPY <<EOF /dst/sub/{CVE_MARKER}\ncopied\nEOF\n"
                      f"RUN cat /dst/sub/{CVE_MARKER}\n").encode()  # fmt: skip
    else:
        dockerfile = (f"FROM busybox\nRUN mkdir /dst && ln -s {link} /dst/sub\n"
                      "COPY dir /dst/\nRUN cat /dst/sub/" + CVE_MARKER + "\n").encode()  # fmt: skip
    with tarfile.open(fileobj=ctx, mode="w") as tf:
        for name, data in (("Dockerfile", dockerfile), (f"dir/sub/{CVE_MARKER}", b"copied\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    ctx.seek(0)
    tag = f"tarcorpus-{uuid.uuid4().hex[:8]}"
    try:
        lines = list(api.build(fileobj=ctx, custom_context=True, tag=tag, decode=True, rm=True,
                               forcerm=True))  # fmt: skip
        assert _stream_error(lines) is None, lines
        assert any("copied" in x.get("stream", "") for x in lines), lines
        assert_untouched(outside, "COPY through an image symlink")
    finally:
        daemon.docker("rmi", "-f", tag)


class _EvilDaemon:
    """A daemon that answers `GET /containers/x/archive` with a chosen tar (a
    compromised or impersonated daemon: what the client unpacks on the host)."""

    def __init__(self, sock: str) -> None:
        import http.server
        import socketserver
        import threading

        self.tar = b""
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def address_string(self) -> str:
                return "local"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Api-Version", "1.41")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.split("?")[0].endswith("/archive"):
                    self._send(outer.tar, "application/x-tar")
                else:
                    self._send(b"OK", "text/plain")

            do_HEAD = do_GET  # noqa: N815

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(sock, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def evil_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_EvilDaemon, str]]:
    sock = str(tmp_path_factory.mktemp("evil") / "d.sock")
    d = _EvilDaemon(sock)
    yield d, sock
    d.close()


@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_cli_cp_from_a_malicious_daemon(
    evil_daemon: tuple[_EvilDaemon, str], outside: Path, tmp_path: Path, i: int
) -> None:
    """`dockyard cp c:/x DEST` unpacks the daemon's tar on the host: through the
    same extractor, inside DEST only."""
    import subprocess

    from tests.conftest import BIN

    server, sock = evil_daemon
    case = _case(outside, i)
    server.tar = case.tar
    dest = tmp_path / "dest"
    dest.mkdir()
    env = dict(os.environ, DOCKYARD_HOST=f"unix://{sock}", DOCKER_HOST=f"unix://{sock}")
    r = subprocess.run([str(BIN / "dockyard"), "cp", "c:/x", str(dest)], env=env,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    if case.plain is None:
        assert r.returncode == 0, (case.name, r.stderr)
    else:
        assert r.returncode == 1 and case.plain in r.stderr, (case.name, r.stderr)
        assert "Traceback" not in r.stderr
    assert_untouched(outside, case.name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"], case.name
    for _, _, files in os.walk(outside.parent):
        assert CVE_MARKER not in files, case.name
