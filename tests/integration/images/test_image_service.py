"""The image service end to end without a daemon: aiohttp's test client over
`make_app([routes(service)])`, a temp data root, real overlay mounts."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dockyard.daemon.routers.images import routes
from dockyard.daemon.server.app import make_app
from dockyard.daemon.services.events import EventBus
from dockyard.daemon.services.images import ImageService, open_image_service
from dockyard.snapshot import mount_all, unmount
from dockyard.snapshot.mount import is_mounted

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (overlay mounts)"),
]
REPO = Path(__file__).resolve().parents[3]


Scenario = Callable[[TestClient, ImageService, EventBus], Awaitable[None]]


def run(data_root: Path, scenario: Scenario) -> None:
    async def main() -> None:
        events = EventBus()
        service = open_image_service(data_root, events)
        client = TestClient(TestServer(make_app([routes(service)])))
        await client.start_server()
        try:
            await scenario(client, service, events)
        finally:
            await client.close()
            service.close()

    asyncio.run(main())


async def _import(client: TestClient, body: bytes, **params: Any) -> dict[str, Any]:
    q: list[tuple[str, str]] = [("fromSrc", "-")]
    for k, v in params.items():
        for item in v if isinstance(v, list) else [v]:
            q.append((k, item))
    r = await client.post("/v1.45/images/create", params=q, data=body)
    text = await r.text()
    assert r.status == 200, text
    return json.loads(text.strip().splitlines()[-1])


def test_import_run_snapshot_and_remove(data_root: Path, busybox_tar: bytes) -> None:
    async def scenario(client: TestClient, svc: ImageService, events: EventBus) -> None:
        q = events.subscribe()
        out = await _import(
            client,
            gzip.compress(busybox_tar, 1),
            repo="busybox:latest",
            changes=['CMD ["sh"]', "ENV A=1"],
        )
        image_id = out["status"]
        assert image_id.startswith("sha256:")
        assert [(e.action, e.attributes.get("name")) for e in [q.get_nowait(), q.get_nowait()]] == [
            ("tag", "busybox:latest"),
            ("import", image_id),
        ]

        image = svc.resolve("busybox")
        assert image.id == image_id and image.repo_tags == ["busybox:latest"]
        assert image.config["config"]["Cmd"] == ["sh"] and image.config["config"]["Env"] == ["A=1"]
        assert image.config["rootfs"]["diff_ids"][0] == image.snapshot
        for ref in (
            image_id,
            image_id[7:],
            image_id[7:19],
            image_id[:19],
            "docker.io/library/busybox:latest",
        ):
            assert svc.resolve(ref).id == image_id

        # the container's view: overlay on the layer, writes go to the upper dir
        mounts = svc.snapshotter.prepare("ctr1", image.snapshot)
        rootfs = data_root.parent / "rootfs"
        rootfs.mkdir()
        mount_all(mounts, str(rootfs))
        try:
            assert os.access(rootfs / "bin/busybox", os.X_OK)
            r = subprocess.run(
                ["chroot", str(rootfs), "/bin/busybox", "echo", "ok"], capture_output=True
            )
            assert r.stdout == b"ok\n"
            (rootfs / "tmp/written").write_text("w")
        finally:
            unmount(str(rootfs))
        assert not is_mounted(str(rootfs))
        assert (svc.snapshotter.fs_dir("ctr1") / "tmp/written").read_text() == "w"
        assert not (svc.snapshotter.fs_dir(image.snapshot) / "tmp/written").exists()

        # rmi while a container uses it
        svc.set_usage_check(lambda i: ["c0ffee" * 10 + "abcd"] if i == image_id else [])
        r = await client.delete("/images/busybox")
        assert r.status == 409
        assert (await r.json())["message"] == (
            'conflict: unable to remove repository reference "busybox" (must force) - '
            f"container c0ffeec0ffee is using its referenced image {image_id[7:19]}"
        )
        r = await client.delete(f"/images/{image_id[7:19]}")
        assert r.status == 409
        assert (
            "(must be forced) - image is being used by stopped container c0ffeec0ffee"
            in (await r.json())["message"]
        )
        svc.set_usage_check(lambda i: [])
        svc.snapshotter.remove("ctr1")

        r = await client.delete("/images/busybox")
        assert r.status == 200
        assert await r.json() == [
            {"Untagged": "busybox:latest"},
            {"Deleted": image_id},
            {"Deleted": image.snapshot},
        ]
        assert list(svc.snapshotter.walk()) == [] and list(svc.content.walk()) == []
        r = await client.get("/images/busybox/json")
        assert r.status == 404 and (await r.json())["message"] == "No such image: busybox:latest"

    run(data_root, scenario)


def test_list_inspect_tag_history(data_root: Path, busybox_tar: bytes) -> None:
    async def scenario(client: TestClient, svc: ImageService, events: EventBus) -> None:
        image_id = (
            await _import(
                client, busybox_tar, repo="busybox", tag="1", changes=["LABEL a=b"], message="hi"
            )
        )["status"]
        r = await client.post(
            f"/images/{image_id[7:17]}/tag", params={"repo": "localhost:5000/foo/bar", "tag": "v2"}
        )
        assert r.status == 201
        r = await client.get("/v1.45/images/localhost:5000/foo/bar:v2/json")
        body = await r.json()
        assert r.status == 200, body
        assert body["Id"] == image_id
        assert sorted(body["RepoTags"]) == ["busybox:1", "localhost:5000/foo/bar:v2"]
        assert body["Comment"] == "hi" and body["Os"] == "linux"
        assert body["Config"]["Labels"] == {"a": "b"} and body["Config"]["Cmd"] is None
        assert body["RootFS"]["Type"] == "layers" and len(body["RootFS"]["Layers"]) == 1
        assert body["GraphDriver"]["Name"] == "overlay2"
        assert os.path.isdir(body["GraphDriver"]["Data"]["UpperDir"] + "/bin")
        assert body["Metadata"]["LastTagTime"] != "0001-01-01T00:00:00Z"
        assert body["Size"] > 1_000_000

        r = await client.get("/images/json")
        (summary,) = await r.json()
        assert summary["Id"] == image_id and summary["Labels"] == {"a": "b"}
        assert summary["SharedSize"] == -1 and summary["Containers"] == -1
        assert isinstance(summary["Created"], int) and "VirtualSize" not in summary
        r = await client.get("/v1.41/images/json")
        assert (await r.json())[0]["VirtualSize"] == summary["Size"]

        async def listed(filters: dict[str, list[str]]) -> list[str]:
            r = await client.get("/images/json", params={"filters": json.dumps(filters)})
            assert r.status == 200, await r.text()
            return [s["Id"] for s in await r.json()]

        assert await listed({"reference": ["busybox"]}) == [image_id]
        assert await listed({"reference": ["busy*:1"]}) == [image_id]
        assert await listed({"reference": ["nope"]}) == []
        assert await listed({"label": ["a=b"]}) == [image_id]
        assert await listed({"label": ["a=c"]}) == []
        assert await listed({"dangling": ["true"]}) == []
        r = await client.get("/images/json", params={"filters": json.dumps({"bogus": ["x"]})})
        assert r.status == 400

        r = await client.get("/images/busybox:1/history")
        (h,) = await r.json()
        assert (
            h["Id"] == image_id
            and h["Comment"] == "hi"
            and sorted(h["Tags"]) == ["busybox:1", "localhost:5000/foo/bar:v2"]
        )

        # removing one of two tags only untags
        r = await client.delete("/images/localhost:5000/foo/bar:v2")
        assert await r.json() == [{"Untagged": "localhost:5000/foo/bar:v2"}]
        # an id with tags in two repositories needs force
        await client.post(f"/images/{image_id}/tag", params={"repo": "other"})
        r = await client.delete(f"/images/{image_id}")
        assert (
            r.status == 409 and "referenced in multiple repositories" in (await r.json())["message"]
        )
        r = await client.delete(f"/images/{image_id}", params={"force": "1"})
        assert r.status == 200
        assert [list(x)[0] for x in await r.json()] == [
            "Untagged",
            "Untagged",
            "Deleted",
            "Deleted",
        ]

    run(data_root, scenario)


def test_errors_leave_nothing_behind(data_root: Path) -> None:
    async def scenario(client: TestClient, svc: ImageService, events: EventBus) -> None:
        r = await client.post(
            "/images/create", params={"fromSrc": "-"}, data=b"not a tar at all" * 1000
        )
        assert r.status == 400, await r.text()
        r = await client.post(
            "/images/create", params={"fromSrc": "-"}, data=gzip.compress(b"x" * 10000)[:200]
        )
        assert r.status == 400
        r = await client.post(
            "/images/create", params={"fromSrc": "-", "repo": "Busybox"}, data=b""
        )
        assert r.status == 400
        assert (await r.json())["message"] == (
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        )
        r = await client.post(
            "/images/create", params={"fromSrc": "-", "changes": "RUN x"}, data=b""
        )
        assert (r.status, (await r.json())["message"]) == (400, "run is not a valid change command")
        r = await client.post("/images/create", params={"fromSrc": "http://example.com/x.tar"})
        assert r.status == 400
        r = await client.post("/images/create", params={"fromImage": "busybox", "tag": "latest"})
        assert r.status >= 400 and "not implemented" in (await r.json())["message"]
        r = await client.get("/images/nope/json")
        assert (r.status, (await r.json())["message"]) == (404, "No such image: nope:latest")
        r = await client.get("/images/UPPER/json")
        assert r.status == 400
        assert list(svc.snapshotter.walk()) == []
        assert list(svc.content.walk()) == []
        assert os.listdir(svc.paths.ingest) == []
        assert svc.store.ids() == []

    run(data_root, scenario)
