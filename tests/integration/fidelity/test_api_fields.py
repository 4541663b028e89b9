"""API fields clients rely on (issue 12): sizes on list and inspect, /info's counts,
container prune's reclaimed space, /version's build fields. Each scenario runs on
dockyardd and on the peer dockerd and asserts what dockerd answers."""

from __future__ import annotations

import json
import uuid

from tests.conftest import Daemon
from tests.integration.daemon.rawapi import request


def api(engine: Daemon, method: str, path: str, body: object = None) -> tuple[int, object]:
    status, _, raw = request(engine.sock, method, path, body)
    return status, json.loads(raw) if raw.strip() else None


def _writer(engine: Daemon, kib: int) -> str:
    """An exited container that wrote `kib` KiB into its writable layer."""
    name = f"fid-size-{uuid.uuid4().hex[:8]}"
    engine.docker("run", "--name", name, "--network", "none", "busybox", "dd",
                  "if=/dev/zero", "of=/blob", "bs=1024", f"count={kib}", check=True)  # fmt: skip
    return name


def test_size_on_list_and_inspect(engine: Daemon) -> None:
    name = _writer(engine, 512)
    try:
        status, listed = api(
            engine, "GET", f'/containers/json?all=1&size=1&filters={{"name":["{name}"]}}'
        )
        assert status == 200 and isinstance(listed, list) and len(listed) == 1
        assert listed[0]["SizeRw"] >= 512 * 1024
        assert listed[0]["SizeRootFs"] > listed[0]["SizeRw"]
        status, doc = api(engine, "GET", f"/containers/{name}/json?size=1")
        assert status == 200 and isinstance(doc, dict)
        assert doc["SizeRw"] >= 512 * 1024
        assert doc["SizeRootFs"] > doc["SizeRw"]
        # without size=1 dockerd leaves both out of inspect and the list
        _, doc = api(engine, "GET", f"/containers/{name}/json")
        assert isinstance(doc, dict) and "SizeRw" not in doc and "SizeRootFs" not in doc
        _, listed = api(engine, "GET", f'/containers/json?all=1&filters={{"name":["{name}"]}}')
        assert isinstance(listed, list) and "SizeRw" not in listed[0]
        out = engine.docker(
            "ps", "-a", "-s", "--filter", f"name={name}", "--format", "{{.Size}}", check=True
        )
        assert out.stdout.strip().startswith(("524kB", "525kB", "528kB"))
    finally:
        engine.docker("rm", "-f", name)


def test_container_prune_reports_space_reclaimed(engine: Daemon) -> None:
    label = f"fid-prune-{uuid.uuid4().hex[:8]}"
    name = f"{label}-c"
    engine.docker("run", "--name", name, "--label", label, "--network", "none", "busybox", "dd",
                  "if=/dev/zero", "of=/blob", "bs=1024", "count=300", check=True)  # fmt: skip
    status, report = api(engine, "POST", f'/containers/prune?filters={{"label":["{label}"]}}')
    assert status == 200 and isinstance(report, dict)
    assert len(report["ContainersDeleted"]) == 1
    assert report["SpaceReclaimed"] >= 300 * 1024


def test_info_images_counts_every_image(engine: Daemon) -> None:
    """An untagged commit is an image too: /info counts it, as `docker images -a` lists it."""
    name = f"fid-img-{uuid.uuid4().hex[:8]}"
    engine.docker("run", "--name", name, "--network", "none", "busybox", "touch", "/x", check=True)
    try:
        _, before = api(engine, "GET", "/info")
        image_id = engine.docker("commit", name, check=True).stdout.strip()
        try:
            _, after = api(engine, "GET", "/info")
            assert isinstance(before, dict) and isinstance(after, dict)
            assert after["Images"] == before["Images"] + 1
            every = set(
                engine.docker("images", "-a", "-q", "--no-trunc", check=True).stdout.split()
            )
            assert after["Images"] == len(every)
        finally:
            engine.docker("rmi", image_id)
    finally:
        engine.docker("rm", "-f", name)


def test_info_images_counts_intermediate_images(engine: Daemon) -> None:
    """An untagged parent of another image is hidden from `docker images` but is an
    image all the same: /info counts the whole store (moby's CountImages), as
    `docker images -a` lists it."""
    first, second = (f"fid-mid-{uuid.uuid4().hex[:8]}" for _ in range(2))
    made: list[str] = []
    try:
        engine.docker("run", "--name", first, "--network", "none", "busybox", "touch", "/x",
                      check=True)  # fmt: skip
        made.append(engine.docker("commit", first, check=True).stdout.strip())
        engine.docker("run", "--name", second, "--network", "none", made[0], "touch", "/y",
                      check=True)  # fmt: skip
        made.append(engine.docker("commit", second, check=True).stdout.strip())
        every = set(engine.docker("images", "-a", "-q", "--no-trunc", check=True).stdout.split())
        top = set(engine.docker("images", "-q", "--no-trunc", check=True).stdout.split())
        assert made[0] in every and made[0] not in top  # the intermediate image
        _, info = api(engine, "GET", "/info")
        assert isinstance(info, dict) and info["Images"] == len(every)
    finally:
        engine.docker("rm", "-f", first, second)
        for image_id in reversed(made):
            engine.docker("rmi", image_id)


def test_version_fields(engine: Daemon) -> None:
    status, doc = api(engine, "GET", "/version")
    assert status == 200 and isinstance(doc, dict)
    for key in ("Version", "ApiVersion", "MinAPIVersion", "GitCommit", "GoVersion", "Os",
                "Arch", "KernelVersion", "BuildTime"):  # fmt: skip
        assert doc[key], key
    engine_part = next(c for c in doc["Components"] if c["Name"] == "Engine")
    for key in ("GitCommit", "BuildTime", "GoVersion", "ApiVersion", "MinAPIVersion"):
        assert engine_part["Details"][key], key
    out = engine.docker(
        "version", "--format", "{{.Server.GitCommit}} {{.Server.BuildTime}}", check=True
    )
    commit, built = out.stdout.split(maxsplit=1)
    assert commit and built.strip()


def test_info_fields_dockerd_fills(engine: Daemon) -> None:
    _, doc = api(engine, "GET", "/info")
    assert isinstance(doc, dict)
    assert doc["DefaultRuntime"] in doc["Runtimes"]
    for key in ("ID", "Name", "KernelVersion", "OperatingSystem", "OSType", "Architecture",
                "DockerRootDir", "ServerVersion", "LoggingDriver", "CgroupDriver",
                "CgroupVersion", "SystemTime", "IndexServerAddress"):  # fmt: skip
        assert doc[key], key
    assert doc["NCPU"] > 0 and doc["MemTotal"] > 0
    assert doc["ContainerdCommit"]["ID"] and doc["RuncCommit"]["ID"] and "ID" in doc["InitCommit"]
    assert isinstance(doc["Plugins"]["Log"], list) and "json-file" in doc["Plugins"]["Log"]
    assert doc["NGoroutines"] > 0
    assert doc["NEventsListener"] >= 0
    assert doc["Images"] >= 1
