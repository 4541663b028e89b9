"""skopeo (Debian) pushes to and pulls from `dockyard registry serve`, in OCI
and Docker formats, and a blob upload cut off halfway is resumed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from tests.integration.registry.images import make_oci_layout
from tests.integration.registry.peers import Registry


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=120
    )


def test_skopeo_push_pull_roundtrip(ours: Registry, tmp_path: Path) -> None:
    src = make_oci_layout(tmp_path / "src", seed=1)
    for fmt, repo in (("oci", "sk/oci"), ("v2s2", "sk/docker")):
        r = skopeo(
            "copy", "--format", fmt, "--dest-tls-verify=false",
            f"oci:{src.path}:latest", f"docker://{ours.addr}/{repo}:v1",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = skopeo("inspect", "--tls-verify=false", f"docker://{ours.addr}/{repo}:v1")
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        assert info["Layers"] == src.layer_digests
        dest = tmp_path / f"dest-{fmt}"
        r = skopeo(
            "copy", "--src-tls-verify=false", f"docker://{ours.addr}/{repo}:v1", f"oci:{dest}:x"
        )
        assert r.returncode == 0, r.stderr
        for d in src.layer_digests:
            got = (dest / "blobs" / "sha256" / d[7:]).read_bytes()
            assert "sha256:" + hashlib.sha256(got).hexdigest() == d
    # the layers are stored once for both repositories
    blobs = list((ours.root / "data" / "blobs" / "sha256").glob("*/*/data"))
    names = [b.parent.name for b in blobs]
    assert len(names) == len(set(names))
    assert {d[7:] for d in src.layer_digests} <= set(names)


def test_upload_killed_halfway_resumes(ours: Registry) -> None:
    """A client loses its connection mid-PATCH; it asks for the upload's
    status and continues from the offset the server reports."""
    import socket

    data = os.urandom(3 << 20)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = ours.req("POST", "/v2/resume/blobs/uploads/").headers["Location"]
    with socket.create_connection(("127.0.0.1", ours.port)) as s:
        s.sendall(
            f"PATCH {loc} HTTP/1.1\r\nHost: {ours.addr}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
        )
        s.sendall(data[: 1 << 20])
    # connection dropped after 1 MiB: the server keeps what arrived
    for _ in range(50):
        r = ours.req("GET", loc)
        if r.headers.get("Range") == f"0-{(1 << 20) - 1}":
            break
        import time

        time.sleep(0.05)
    assert r.status_code == 204
    offset = int(r.headers["Range"].split("-")[1]) + 1
    assert offset == 1 << 20
    r = ours.req(
        "PATCH",
        loc,
        data=data[offset:],
        headers={
            "Content-Range": f"{offset}-{len(data) - 1}",
            "Content-Type": "application/octet-stream",
        },
    )
    assert r.status_code == 202, r.text
    r = ours.req("PUT", f"{loc}?digest={digest}")
    assert r.status_code == 201, r.text
    assert ours.req("GET", f"/v2/resume/blobs/{digest}").content == data


def test_pull_through_cache(ours: Registry, tmp_path: Path) -> None:
    """A dockyard registry in proxy mode mirrors `ours`: skopeo pulls through it,
    and the mirror then holds every blob and answers by digest from its cache."""
    from tests.integration.registry.peers import start, stop

    src = make_oci_layout(tmp_path / "src", seed=3)
    r = skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"oci:{src.path}:latest",
        f"docker://{ours.addr}/px/img:1",
    )
    assert r.returncode == 0, r.stderr
    mirror = start("dockyard", args=["--proxy", ours.url])
    try:
        r = skopeo(
            "copy",
            "--src-tls-verify=false",
            f"docker://{mirror.addr}/px/img:1",
            f"oci:{tmp_path / 'a'}:x",
        )
        assert r.returncode == 0, r.stderr
        cached = {p.parent.name for p in (mirror.root / "data").rglob("blobs/sha256/*/*/data")}
        assert {d[7:] for d in src.layer_digests} <= cached
        r = mirror.req("GET", "/v2/px/img/tags/list")
        assert r.json()["tags"] == ["1"]
        # by digest, the cached copy answers without asking upstream
        r = mirror.req(
            "GET",
            f"/v2/px/img/manifests/{src.manifest_digest}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert r.status_code == 200
    finally:
        stop(mirror)


def test_read_only_mode(tmp_path: Path) -> None:
    """`--read-only` (or storage.maintenance.readonly): reads work, writes get UNSUPPORTED."""
    from tests.integration.registry.peers import start, stop

    reg = start("dockyard", args=["--read-only"])
    try:
        assert reg.req("GET", "/v2/").status_code == 200
        r = reg.req("POST", "/v2/ro/blobs/uploads/")
        assert r.status_code == 405
        assert r.json()["errors"][0]["code"] == "UNSUPPORTED"
        r = reg.req("GET", "/v2/ro/tags/list")
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    finally:
        stop(reg)


def test_rate_limit_answers_429_and_clients_wait() -> None:
    """--rate-limit (http.ratelimit): over the limit the registry answers
    TOOMANYREQUESTS with Retry-After; the daemon's client waits and retries."""
    import asyncio

    from dockyard.registry.client.transport import Scope, Transport
    from tests.integration.registry.peers import start, stop

    reg = start("dockyard", args=["--rate-limit", "4:4"])
    try:
        answers = [reg.req("GET", "/v2/").status_code for _ in range(8)]
        assert answers[0] == 200 and answers[-1] == 429  # a burst of 4 (one went on start-up)
        r = reg.req("GET", "/v2/")
        if r.status_code == 429:
            assert r.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
            assert int(r.headers["Retry-After"]) >= 1

        async def many() -> list[int]:
            async with Transport(reg.addr) as t:
                out = []
                for _ in range(10):
                    resp = await t.request(
                        "GET", "/v2/rl/tags/list", Scope("rl", ("pull",)), allow_404=True
                    )
                    resp.release()
                    out.append(resp.status)
                return out

        assert asyncio.run(many()) == [404] * 10  # every one answered, none throttled away
    finally:
        stop(reg)


def test_server_killed_mid_upload_serves_no_torn_blob(tmp_path: Path) -> None:
    """kill -9 of the registry while a blob streams in: after a restart on the same
    storage the blob is not visible, the upload reports what reached the disk, and
    the client finishes it from there."""
    import signal
    import socket
    import time

    from tests.integration.registry.peers import start, stop

    root = tmp_path / "reg"
    root.mkdir()
    reg = start("dockyard", root=root)
    data = os.urandom(4 << 20)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = reg.req("POST", "/v2/kill/blobs/uploads/").headers["Location"]
    with socket.create_connection(("127.0.0.1", reg.port)) as s:
        s.sendall(
            f"PUT {loc}?digest={digest} HTTP/1.1\r\nHost: {reg.addr}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        )
        s.sendall(data[: 2 << 20])
        time.sleep(0.3)
        reg.proc.send_signal(signal.SIGKILL)
        reg.proc.wait(10)
    reg2 = start("dockyard", root=root)  # same storage, a new port
    try:
        assert reg2.req("HEAD", f"/v2/kill/blobs/{digest}").status_code == 404
        r = reg2.req("GET", loc)
        assert r.status_code == 204
        offset = int(r.headers["Range"].split("-")[1]) + 1
        assert 0 < offset <= 2 << 20
        r = reg2.req(
            "PATCH", loc, data=data[offset:],
            headers={"Content-Range": f"{offset}-{len(data) - 1}", "Content-Type": "application/octet-stream"},
        )  # fmt: skip
        assert r.status_code == 202, r.text
        assert reg2.req("PUT", f"{loc}?digest={digest}").status_code == 201
        assert reg2.req("GET", f"/v2/kill/blobs/{digest}").content == data
    finally:
        stop(reg2)
