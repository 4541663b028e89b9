"""The image commands of `dockyard` against a real dockyardd, checked against
the official docker CLI on the same daemon: same arguments, same output."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import pytest

from tests.conftest import Daemon

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
]


def _same(daemon: Daemon, *args: str, input: bytes | None = None) -> str:
    """Run both CLIs; assert equal stdout, stderr and status; return the output."""
    ours = daemon.dockyard(*args, input=input)
    theirs = daemon.docker(*args, input=input)
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        theirs.returncode,
        theirs.stdout,
        theirs.stderr,
    ), args
    return ours.stdout


def _import(daemon: Daemon, tar: Path, ref: str = "", *changes: str) -> str:
    args = ["import"]
    for c in changes:
        args += ["-c", c]
    args.append(str(tar))
    if ref:
        args.append(ref)
    return daemon.docker(*args, check=True).stdout.strip()


@pytest.fixture
def repo(daemon: Daemon) -> str:
    name = f"imgcli-{uuid.uuid4().hex[:8]}"
    yield name
    ids = daemon.docker("images", "-q", "--no-trunc", "--filter", f"label=test={name}").stdout
    ids += daemon.docker("images", "-q", "--no-trunc", name).stdout
    for image_id in set(ids.split()):
        daemon.docker("rmi", "-f", image_id)


def test_list_history_inspect_match_docker(
    daemon: Daemon, busybox_rootfs_tar: Path, repo: str
) -> None:
    first = _import(daemon, busybox_rootfs_tar, f"{repo}:one", f"LABEL test={repo}", "LABEL a=1")
    second = _import(
        daemon, busybox_rootfs_tar, f"{repo}/sub:two", f"LABEL test={repo}", 'CMD ["sh"]'
    )
    assert first != second
    daemon.docker("tag", f"{repo}:one", f"{repo}:alias", check=True)
    fmt = "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}} {{.Digest}}"
    for args in (
        ["images", "--format", fmt, "--filter", f"label=test={repo}"],
        ["images", "--format", fmt, "--filter", "label=a=1", "--filter", f"label=test={repo}"],
        ["images", "--format", fmt, f"{repo}/*"],
        ["images", "--format", fmt, "--filter", f"reference={repo}:o*"],
        ["images", "--format", fmt, "--filter", f"since={repo}:one", f"{repo}*"],
        ["images", "--format", fmt, "--filter", f"before={repo}/sub:two", repo],
        ["images", "--format", "{{json .Repository}}", "--no-trunc", repo],
        ["images", "-q", repo],
        ["image", "ls", "--digests", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}", repo],
        ["images", "--format", "{{.Nope}}", repo],
        ["images", "--filter", "bogus=1"],
        ["history", "-q", f"{repo}:one"],
        ["history", "--format", "{{.ID}} {{.Size}} {{.CreatedBy}} {{.Comment}}", f"{repo}:one"],
        ["history", "--no-trunc", "-H=false", "--format", "{{.ID}} {{.Size}}", second],
        ["history", "nope-" + repo],
        ["image", "history", "-q", "--no-trunc", f"{repo}/sub:two"],
        ["image", "inspect", "-f", "{{.Id}} {{.Config.Labels}} {{.RepoTags}}", f"{repo}:one"],
        ["image", "inspect", f"{repo}/sub:two"],
        ["image", "inspect", "nope-" + repo],
        ["tag", f"{repo}:one", f"{repo}:three"],
        ["tag", "nope-" + repo, f"{repo}:four"],
    ):
        _same(daemon, *args)
    untag = daemon.dockyard("rmi", f"{repo}:three")
    assert (untag.returncode, untag.stdout) == (0, f"Untagged: {repo}:three\n"), untag.stderr
    _same(daemon, "rmi", f"{repo}:three")  # gone now: the same error from both
    out = _same(daemon, "images", "--format", "{{.Tag}}", repo)
    assert sorted(out.split()) == ["alias", "one"]
    # the table: header and columns line up like docker's
    table = daemon.dockyard("history", f"{repo}:one").stdout.splitlines()
    assert re.fullmatch(r"IMAGE +CREATED +CREATED BY +SIZE +COMMENT", table[0])
    assert table[1].startswith(first[7:19] + "   ")


def test_save_load_match_docker(
    daemon: Daemon, busybox_rootfs_tar: Path, repo: str, tmp_path: Path
) -> None:
    _import(daemon, busybox_rootfs_tar, f"{repo}:a", f"LABEL test={repo}")
    _import(daemon, busybox_rootfs_tar, f"{repo}:b", f"LABEL test={repo}", "ENV X=1")
    ours, theirs = tmp_path / "ours.tar", tmp_path / "theirs.tar"
    assert daemon.dockyard("save", "-o", str(ours), f"{repo}:a", f"{repo}:b").returncode == 0
    assert daemon.docker("save", "-o", str(theirs), f"{repo}:a", f"{repo}:b").returncode == 0
    assert ours.read_bytes() == theirs.read_bytes()
    assert oct(ours.stat().st_mode & 0o777) == oct(theirs.stat().st_mode & 0o777)
    piped = daemon.dockyard("save", f"{repo}:a", f"{repo}:b")
    assert piped.stdout.encode(errors="surrogateescape") and piped.returncode == 0
    assert list(tmp_path.glob(".docker_temp_*")) == []

    daemon.docker("rmi", f"{repo}:a", f"{repo}:b", check=True)
    loaded = daemon.dockyard("load", "-i", str(ours))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout == f"Loaded image: {repo}:a\nLoaded image: {repo}:b\n"
    # loading again says the same (the images exist); quiet and stdin too
    assert _same(daemon, "load", "-q", input=ours.read_bytes()) == loaded.stdout
    assert _same(daemon, "load", "-i", str(ours)) == loaded.stdout
    again = tmp_path / "again.tar"
    daemon.dockyard("save", "-o", str(again), f"{repo}:a", f"{repo}:b")
    assert again.read_bytes() == ours.read_bytes()

    # errors, worded like docker's
    _same(daemon, "save", "-o", str(tmp_path / "x.tar"), "nope-" + repo)
    assert not (tmp_path / "x.tar").exists()
    _same(daemon, "load", input=b"")
    _same(daemon, "load", "-i", str(tmp_path / "missing.tar"))
    _same(daemon, "load", input=b"not an archive" * 100)


def test_image_prune_matches_docker(daemon: Daemon, busybox_rootfs_tar: Path, repo: str) -> None:
    _import(daemon, busybox_rootfs_tar, "", f"LABEL test={repo}", "ENV N=1")  # dangling
    kept = _import(daemon, busybox_rootfs_tar, f"{repo}:kept", f"LABEL test={repo}", "ENV N=2")
    # a prompt answered with nothing prunes nothing
    no = daemon.dockyard("image", "prune", input=b"")
    assert no.stdout == (
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    )
    assert daemon.docker("images", "-q", "--filter", f"label=test={repo}").stdout.count("\n") == 2
    out = daemon.dockyard("image", "prune", "-f", "--filter", f"label=test={repo}")
    assert re.fullmatch(
        r"Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: \d.*B\n",
        out.stdout,
    ), out.stdout
    assert _same(daemon, "image", "prune", "-f", "--filter", f"label=test={repo}") == (
        "Total reclaimed space: 0B\n"
    )
    # -a removes unused tagged images too, the filter keeps it to ours
    out = daemon.dockyard("image", "prune", "-a", "-f", "--filter", f"label=test={repo}")
    assert out.stdout == (
        f"Deleted Images:\nuntagged: {repo}:kept\ndeleted: {kept}\n\n"
        f"Total reclaimed space: {out.stdout.rsplit(' ', 1)[1]}"
    )
    assert daemon.docker("images", "-q", "--filter", f"label=test={repo}").stdout == ""


def test_system_df_matches_docker(daemon: Daemon, busybox_rootfs_tar: Path, repo: str) -> None:
    image = _import(daemon, busybox_rootfs_tar, f"{repo}:df", f"LABEL test={repo}", "ENV D=1")
    name = f"{repo}-c"
    run = daemon.docker(
        "run", "--name", name, f"{repo}:df", "sh", "-c", "head -c 300000 /dev/zero > /f"
    )
    assert run.returncode == 0, run.stderr
    try:
        df = json.loads(daemon.dockyard("inspect", "--type", "image", image).stdout)[0]
        assert df["Id"] == image
        _same(daemon, "system", "df")
        _same(daemon, "system", "df", "--format", "{{json .}}")
        _same(daemon, "system", "df", "--format", "{{.Type}}: {{.Size}} {{.Reclaimable}}")
        rows = daemon.dockyard("system", "df", "--format", "{{json .}}").stdout.splitlines()
        by_type = {r["Type"]: r for r in map(json.loads, rows)}
        assert int(by_type["Images"]["TotalCount"]) >= 2
        assert int(by_type["Containers"]["TotalCount"]) >= 1
        assert by_type["Local Volumes"]["Size"] == "0B"
        verbose = daemon.dockyard("system", "df", "-v").stdout
        line = next(ln for ln in verbose.splitlines() if ln.startswith(name[:0] + repo))
        assert line.split()[2] == image[7:19] and line.split()[-1] == "1"  # CONTAINERS
        container = next(ln for ln in verbose.splitlines() if ln.endswith(name))
        assert "300kB" in container  # SizeRw: the 300 000 bytes written
    finally:
        daemon.docker("rm", "-f", name)


def test_load_progress_when_not_quiet(daemon: Daemon, repo: str) -> None:
    """quiet=0 (docker load on a terminal): a "Loading layer" bar per new layer, then the result."""
    import hashlib
    import io
    import tarfile

    from dockyard.client.api import Client

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tf:
        data = os.urandom(1 << 20)
        ti = tarfile.TarInfo("blob")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    ly = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(ly).hexdigest()
    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"test": repo}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }  # fmt: skip
    ).encode()
    cfg_name = "blobs/sha256/" + hashlib.sha256(cfg).hexdigest()
    manifest = [{"Config": cfg_name, "RepoTags": [f"{repo}:p"], "Layers": [f"blobs/sha256/{diff_id[7:]}"]}]  # fmt: skip
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tf:
        for name, body in [(cfg_name, cfg), (manifest[0]["Layers"][0], ly),
                           ("manifest.json", json.dumps(manifest).encode())]:  # fmt: skip
            ti = tarfile.TarInfo(name)
            ti.size = len(body)
            tf.addfile(ti, io.BytesIO(body))
    client = Client(daemon.host)
    resp = client.request("POST", "/images/load", {"quiet": "0"}, archive.getvalue())
    messages = list(client.json_stream(resp))
    bars = [m for m in messages if m.get("status") == "Loading layer"]
    assert [b["progressDetail"]["current"] for b in bars] == [0, len(ly)], messages
    assert all(b["id"] == diff_id[7:19] and b["progressDetail"]["total"] == len(ly) for b in bars)
    assert bars[-1]["progress"].startswith("[" + "=" * 49 + ">]")
    assert messages[-1] == {"stream": f"Loaded image: {repo}:p\n"}
