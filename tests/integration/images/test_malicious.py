"""A corpus of malicious and broken archives for `load` (and layers for
`import`): each is rejected with a clear message, nothing is written outside
the store, and the store is left consistent (a check walk finds no image,
layer, blob, snapshot or ingest that a clean store would not have)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.images import ImageService
from tests.integration.images.test_image_service import run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (overlay mounts)"),
]


def _tar(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            if isinstance(e, tuple):
                ti = tarfile.TarInfo(e[0])
                ti.size = len(e[1])
                tf.addfile(ti, io.BytesIO(e[1]))
            else:
                tf.addfile(e)
    return buf.getvalue()


def _info(name: str, kind: bytes, linkname: str = "", **kw: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = linkname
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _archive(
    layers: list[bytes],
    diff_ids: list[str] | None = None,
    manifest_layers: list[str] | None = None,
    extra: list[tarfile.TarInfo | tuple[str, bytes]] | None = None,
    blob_override: dict[str, bytes] | None = None,
) -> bytes:
    """A Docker archive (manifest.json + blobs/sha256/...) of one image tagged evil:latest."""
    diff_ids = diff_ids if diff_ids is not None else [_sha(ly) for ly in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    blobs = {_sha(config)[7:]: config}
    names = []
    for ly in layers:
        blobs[_sha(ly)[7:]] = ly
        names.append("blobs/sha256/" + _sha(ly)[7:])
    for k, v in (blob_override or {}).items():
        blobs[k] = v
    manifest = [
        {
            "Config": "blobs/sha256/" + _sha(config)[7:],
            "RepoTags": ["evil:latest"],
            "Layers": manifest_layers if manifest_layers is not None else names,
        }
    ]
    entries: list[tarfile.TarInfo | tuple[str, bytes]] = [
        ("blobs/sha256/" + k, v) for k, v in blobs.items()
    ]
    entries.append(("manifest.json", json.dumps(manifest).encode()))
    return _tar(entries + (extra or []))


def _corpus(outside: Path) -> list[tuple[str, bytes, str]]:
    """(case, archive, what the error says)."""
    ok = _tar([("etc/ok", b"fine\n")])
    other = _tar([("etc/other", os.urandom(3000))])  # a layer the store does not have yet
    out = str(outside)
    sym_parent = _tar(
        [_info("lnk", tarfile.SYMTYPE, out), ("lnk/pwned", b"x")]  # write through a symlink
    )
    sym_hardlink = _tar(
        [_info("lnk", tarfile.SYMTYPE, out), _info("h", tarfile.LNKTYPE, "lnk/secret")]
    )
    cases = [
        ("traversal", _tar([("../../pwned", b"x")]), "escapes the layer root"),
        ("traversal deep", _tar([("a/../../b/../../pwned", b"x")]), "escapes the layer root"),
        ("absolute path", _tar([(out + "/pwned", b"x")]), "absolute path"),
        ("symlink parent escape", sym_parent, "a symlink cannot be a parent"),
        (
            "hard link outside (relative)",
            _tar([_info("h", tarfile.LNKTYPE, "../../etc/passwd")]),
            "escapes the layer root",
        ),  # fmt: skip
        (
            "hard link outside (absolute)",
            _tar([_info("h", tarfile.LNKTYPE, "/etc/passwd")]),
            "absolute path",
        ),  # fmt: skip
        ("hard link through a symlink", sym_hardlink, "a symlink cannot be a parent"),
        (
            "hard link to nothing",
            _tar([_info("h", tarfile.LNKTYPE, "missing")]),
            "which is not in the layer",
        ),  # fmt: skip
        ("root not a directory", _tar([("./", b"")]), "the root entry is not a directory"),
    ]
    out_cases = [(name, _archive([ok, layer]), msg) for name, layer, msg in cases]
    gz = gzip.compress(_archive([ok]))
    out_cases += [
        (
            "device node in the archive",
            _archive([ok], extra=[_info("dev/evil", tarfile.CHRTYPE, devmajor=1, devminor=3)]),
            "device node or fifo, not allowed",
        ),
        (
            "fifo in the archive",
            _archive([ok], extra=[_info("fifo", tarfile.FIFOTYPE)]),
            "device node or fifo, not allowed",
        ),
        ("truncated gzip", gz[: len(gz) // 2], "invalid archive"),
        ("truncated gzip layer", _archive([gzip.compress(other)[:60]], [_sha(other)]), "gzip"),
        ("truncated layer tar", _archive([other[:700]], [_sha(other)]), "invalid layer"),
        (
            "wrong digest (blob content does not match its name)",
            _archive([ok], blob_override={_sha(ok)[7:]: ok.replace(b"fine", b"evil")}),
            "digest mismatch",
        ),
        (
            "config diff id lies",
            _archive([ok], diff_ids=["sha256:" + "1" * 64]),
            "the config says sha256:" + "1" * 64,
        ),
        (
            "manifest points at a missing blob",
            _archive([ok], manifest_layers=["blobs/sha256/" + "2" * 64]),
            f"blobs/sha256/{'2' * 64} is missing",
        ),
        (
            "layer count differs from the config",
            _archive([ok], diff_ids=[_sha(ok), _sha(ok)]),
            "has 1 layers, its config 2",
        ),
        ("not a tar", b"\x00garbage" * 300, "invalid archive"),
        ("empty", b"", "invalid archive"),
        ("no manifest", _tar([("hello", b"x")]), "neither manifest.json nor index.json"),
        (
            "bad json",
            _tar([("manifest.json", b"[{")]),
            "invalid archive: manifest.json",
        ),
    ]
    return out_cases


def test_malicious_archives_are_rejected_and_store_stays_consistent(
    data_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")

    async def scenario(client: TestClient, svc: ImageService, events: EventBus) -> None:
        # a good image first: what the bad loads must leave alone
        good = _archive([_tar([("etc/ok", b"fine\n")]), _tar([("etc/two", b"2\n")])])
        r = await client.post("/images/load", data=good)
        assert "Loaded image: evil:latest" in await r.text()
        await client.post("/images/evil:latest/tag", params={"repo": "good", "tag": "1"})
        await client.delete("/images/evil:latest")
        before = (svc.store.ids(), sorted(b.digest for b in svc.content.walk()))
        assert svc.check(verify_digests=True, dangling=True) == []
        for case, data, message in _corpus(outside):
            r = await client.post("/images/load", data=data)
            assert r.status == 200, case
            lines = [json.loads(x) for x in (await r.text()).splitlines() if x.strip()]
            assert "error" in lines[-1], (case, lines)
            assert message in lines[-1]["error"], (case, lines[-1]["error"])
            assert lines[-1]["errorDetail"]["message"] == lines[-1]["error"]
            assert (svc.store.ids(), sorted(b.digest for b in svc.content.walk())) == before, case
            assert svc.check(verify_digests=True, dangling=True) == [], case
            assert sorted(os.listdir(outside)) == ["secret"], case
            assert (outside / "secret").read_text() == "secret", case
        # the same layers through import (a single rootfs tar)
        for case, layer in [
            ("import traversal", _tar([("../../pwned", b"x")])),
            ("import symlink parent", _tar([_info("l", tarfile.SYMTYPE, str(outside)), ("l/p", b"x")])),
        ]:  # fmt: skip
            r = await client.post("/images/create", params={"fromSrc": "-"}, data=layer)
            assert r.status == 400, case
            assert "invalid layer" in (await r.json())["message"], case
            assert svc.check(verify_digests=True, dangling=True) == [], case
            assert sorted(os.listdir(outside)) == ["secret"], case
        assert svc.resolve("good:1").id == before[0][0]
        r = await client.get("/images/good:1/get")
        assert r.status == 200 and len(await r.read()) > 0

    run(data_root, scenario)
