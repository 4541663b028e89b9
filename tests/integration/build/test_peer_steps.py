"""What a build says and keeps, step by step, against a peer dockerd's legacy
builder: the output of multi-stage builds (their cache on the first rebuild, a
failure's earlier steps), step numbers with global ARGs, RUN's stderr in the JSON
stream, the image ids `docker history` names, `--cache-from`, and
`POST /build?version=2` on a daemon without BuildKit. Ids and times are masked;
everything else must be the same."""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Daemon
from tests.integration.build.conftest import docker_at
from tests.integration.daemon.rawapi import request
from tests.peers import peer_dockerd

_NOISE = ("DEPRECATED", "BuildKit is currently", "environment-variable", "Sending build context")


def _output(host: str, ctx: Path, dockerfile: str, *extra: str) -> tuple[int, list[str]]:
    """(exit code, the build's lines with ids masked and the CLI's notices left out)."""
    (ctx / "Dockerfile").write_text(dockerfile)
    r = docker_at(host, "build", *extra, str(ctx))
    lines = [
        re.sub(r"\b[0-9a-f]{12}\b", "ID", x)
        for x in (r.stdout + r.stderr).splitlines()
        if x.strip() and not any(n in x for n in _NOISE)
    ]
    return r.returncode, lines


def _both(daemon: Daemon, peer: str, tmp_path: Path, dockerfile: str, *extra: str):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir(exist_ok=True)
    theirs.mkdir(exist_ok=True)
    return _output(daemon.host, ours, dockerfile, *extra), _output(peer, theirs, dockerfile, *extra)


def test_shared_first_steps_cached_on_rebuild(
    daemon: Daemon, peer_busybox: str, tmp_path: Path
) -> None:
    u = uuid.uuid4().hex
    df = (
        f"FROM busybox AS a\nRUN echo {u} > /s\nRUN echo a > /a\n"
        f"FROM busybox AS b\nRUN echo {u} > /s\nRUN echo b > /b\n"
        "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"
    )
    first = _both(daemon, peer_busybox, tmp_path, df)
    second = _both(daemon, peer_busybox, tmp_path, df)
    assert first[0] == first[1]
    assert second[0] == second[1]
    assert second[0][1].count(" ---> Using cache") == 6  # every step but the FROMs


def test_failed_multistage_build_keeps_earlier_output(
    daemon: Daemon, peer_busybox: str, tmp_path: Path
) -> None:
    u = uuid.uuid4().hex
    df = (
        # stage a still runs when the other fails: dockerd, one stage after another,
        # prints all of it first
        f"FROM busybox AS a\nRUN echo first-{u} && echo 1 > /one\nRUN sleep 3\n"
        "FROM busybox\nRUN echo second; exit 3\nCOPY --from=a /one /one\n"
    )
    ours, theirs = _both(daemon, peer_busybox, tmp_path, df)
    # a difference left alone: dockerd keeps a failed step's container unless
    # --force-rm, dockyardd removes it (and says so just before the error)
    if ours[1][-2:-1] == ["Removing intermediate container ID"]:
        del ours[1][-2]
    assert ours == theirs
    assert ours[0] != 0 and any(f"first-{u}" == x for x in ours[1]), ours


def test_global_args_are_steps(daemon: Daemon, peer_busybox: str, tmp_path: Path) -> None:
    df = "ARG A=1\nARG B\nFROM busybox\nARG A\nRUN echo $A\n"
    ours, theirs = _both(daemon, peer_busybox, tmp_path, df, "--no-cache")
    # (dockerd 20.10 also runs a container for the ARG step: its lines are left out)
    assert [x for x in ours[1] if x.startswith("Step")] == [
        x for x in theirs[1] if x.startswith("Step")
    ]
    assert ours[1][0] == "Step 1/5 : ARG A=1", ours


def _stream(host: str, dockerfile: str, query: str) -> tuple[int, list[dict]]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    sock = host.removeprefix("unix://")
    status, _, body = request(sock, "POST", f"/build?{query}", buf.getvalue(), timeout=120)
    if status != 200:
        return status, [json.loads(body)]
    msgs = [json.loads(x) for x in body.split(b"\r\n") if x.strip()]
    return status, [m for m in msgs if "stream" in m or "error" in m]


def test_run_stderr_is_framed_red(daemon: Daemon, peer_busybox: str) -> None:
    df = "FROM busybox\nRUN echo to-stderr >&2\n"
    ours = _stream(daemon.host, df, "nocache=1")
    theirs = _stream(peer_busybox, df, "nocache=1")

    def masked(r: tuple[int, list[dict]]) -> tuple[int, str]:  # dockerd splits lines
        return r[0], re.sub(r"\b[0-9a-f]{12}\b", "ID", "".join(m.get("stream", "") for m in r[1]))

    assert masked(ours) == masked(theirs)
    assert {"stream": "\x1b[91mto-stderr\n\x1b[0m"} in ours[1]


def _history_ids(host: str, tag: str) -> list[str]:
    r = docker_at(host, "history", "--format", "{{.ID}}", tag)
    assert r.returncode == 0, r.stderr
    return ["<missing>" if x == "<missing>" else "ID" for x in r.stdout.split()]


def test_history_names_intermediate_images(
    daemon: Daemon, peer_busybox: str, tmp_path: Path
) -> None:
    tag = f"hist{uuid.uuid4().hex[:8]}"
    df = 'FROM busybox\nENV A=1\nRUN echo x > /x\nWORKDIR /w\nCMD ["sh"]\n'
    ours, theirs = _both(daemon, peer_busybox, tmp_path, df, "-t", tag)
    assert ours[0] == theirs[0] == 0, (ours, theirs)
    assert _history_ids(daemon.host, tag) == _history_ids(peer_busybox, tag)
    assert "<missing>" not in _history_ids(daemon.host, tag)
    daemon.docker("rmi", tag)


def _cache_use(host: str, ctx: Path, dockerfile: str, *extra: str) -> list[bool]:
    code, lines = _output(host, ctx, dockerfile, *extra)
    assert code == 0, lines
    steps = [i for i, x in enumerate(lines) if x.startswith("Step ")]
    return [
        any("Using cache" in x for x in lines[a:b])
        for a, b in zip(steps[1:], [*steps[2:], len(lines)], strict=True)
    ]


def test_cache_from_only_ancestors(daemon: Daemon, peer_busybox: str, tmp_path: Path) -> None:
    u = uuid.uuid4().hex
    tag = f"cf{u[:8]}"
    df = f"FROM busybox\nRUN echo {u} > /u\nRUN echo two > /t\n"
    results = []
    for host, ctx in ((daemon.host, tmp_path / "o"), (peer_busybox, tmp_path / "t")):
        ctx.mkdir()
        results.append([
            _cache_use(host, ctx, df, "-t", tag),  # built: nothing cached
            _cache_use(host, ctx, df),  # the local cache
            _cache_use(host, ctx, df, "--cache-from", "busybox"),  # not from busybox
            _cache_use(host, ctx, df, "--cache-from", tag),  # its ancestors and itself
            _cache_use(host, ctx, df, "--cache-from", "nosuchimage"),  # no source: no cache
        ])  # fmt: skip
        docker_at(host, "rmi", tag)
    assert results[0] == results[1]
    assert results[0][1] == [True, True] and results[0][2] == [False, False], results[0]


@pytest.fixture(scope="module")
def peer_without_buildkit() -> Iterator[str]:
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed")
    with peer_dockerd("dy-build-nobk-", {"features": {"buildkit": False}}) as host:
        yield host


def test_build_version(daemon: Daemon, peer_without_buildkit: str) -> None:
    """dockyardd has no BuildKit. dockerd 20.10 always has it (it builds version=2 even
    with its buildkit feature off), so version=2 gets moby's refusal for a daemon whose
    buildkit feature is off (api/server/router/build/build_routes.go), which the docker
    CLI shows as 'Error response from daemon: buildkit is not enabled on daemon'; an
    unknown version is answered as the peer answers it."""
    df = "FROM scratch\nLABEL a=b\n"
    assert _stream(daemon.host, df, "version=2") == (
        400,
        [{"message": "buildkit is not enabled on daemon"}],
    )
    for v in ("3", "1x"):
        ours = _stream(daemon.host, df, f"version={v}")
        assert ours == _stream(peer_without_buildkit, df, f"version={v}")
        assert ours[0] == 500
