"""docker cp (GET/PUT/HEAD /containers/{id}/archive) both ways, with `-`, on
running and stopped containers, and the escapes it must refuse: symlinks in the
path, in the archive, and swapped in while a copy runs (CVE-2018-15664)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.conftest import Daemon
from tests.integration.exec.conftest import unique

pytestmark = pytest.mark.integration


@pytest.fixture()
def host_dir() -> Iterator[Path]:
    """A host directory a container must never reach, with a marker file."""
    d = Path(tempfile.mkdtemp(prefix="dy-host-"))
    (d / "secret").write_text("HOST SECRET\n")
    yield d
    subprocess.run(["rm", "-rf", str(d)], check=False)


def test_cp_to_and_from_a_running_container(daemon: Daemon, running: str, tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    os.symlink("a.txt", src / "link")
    r = daemon.docker("cp", str(src), f"{running}:/tmp/")
    assert r.returncode == 0, r.stderr
    r = daemon.docker("exec", running, "sh", "-c", "cat /tmp/in/a.txt; readlink /tmp/in/link")
    assert r.stdout == "alpha\na.txt\n"
    out = tmp_path / "out"
    r = daemon.docker("cp", f"{running}:/tmp/in", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "a.txt").read_text() == "alpha\n"
    assert (out / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    assert os.readlink(out / "link") == "a.txt"
    r = daemon.docker("cp", f"{running}:/nonexistent", str(tmp_path / "x"))
    assert r.returncode != 0
    assert f"Could not find the file /nonexistent in container {running}" in r.stderr


def test_cp_tar_streams_with_dash(daemon: Daemon, running: str) -> None:
    p = subprocess.run(
        ["docker", "cp", f"{running}:/etc/hostname", "-"], env=daemon.env(), capture_output=True
    )
    assert p.returncode == 0, p.stderr
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        assert tf.getnames() == ["hostname"]
        assert tf.extractfile("hostname").read().strip() == running_hostname(daemon, running)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"from a tar stream\n"
        ti = tarfile.TarInfo("streamed/file.txt")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    p = subprocess.run(
        ["docker", "cp", "-", f"{running}:/tmp"], env=daemon.env(), input=buf.getvalue(),
        capture_output=True,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert daemon.docker("exec", running, "cat", "/tmp/streamed/file.txt").stdout == (
        "from a tar stream\n"
    )


def running_hostname(daemon: Daemon, name: str) -> bytes:
    return daemon.docker("inspect", "-f", "{{.Config.Hostname}}", name).stdout.strip().encode()


def test_cp_on_a_stopped_container_mounts_its_snapshot(
    daemon: Daemon, names: list[str], tmp_path: Path
) -> None:
    n = unique()
    names.append(n)
    daemon.docker("create", "--network", "none", "--name", n, "busybox", "cat", "/x", check=True)
    f = tmp_path / "x"
    f.write_text("copied while stopped\n")
    before = daemon.mounts_under_root()
    r = daemon.docker("cp", str(f), f"{n}:/")
    assert r.returncode == 0, r.stderr
    r = daemon.docker("cp", f"{n}:/x", str(tmp_path / "back"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back").read_text() == "copied while stopped\n"
    # The temporary mount of the snapshot goes away (other tests' mounts may come and go).
    # The CLI may exit on tar's end-of-archive before the daemon has finished the
    # response, and so before the unmount that follows it: allow it a moment.
    deadline = time.monotonic() + 5
    while leftover := [m for m in daemon.mounts_under_root() if "/cp-" in m and m not in before]:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leftover
    r = daemon.docker("start", "-a", n)  # the container sees the file
    assert (r.returncode, r.stdout) == (0, "copied while stopped\n")


def test_symlinks_in_the_path_stay_inside_the_root(
    daemon: Daemon, running: str, host_dir: Path, tmp_path: Path
) -> None:
    daemon.docker(
        "exec", running, "sh", "-c",
        f"ln -s {host_dir} /abs; ln -s ../../../../../../..{host_dir} /rel; ln -s / /rootlink",
        check=True,
    )  # fmt: skip
    for link in ("abs", "rel"):
        r = daemon.docker("cp", f"{running}:/{link}/secret", str(tmp_path / link))
        assert r.returncode != 0
        assert not (tmp_path / link).exists()
        f = tmp_path / "payload"
        f.write_text("payload\n")
        daemon.docker("cp", str(f), f"{running}:/{link}/")
        assert sorted(os.listdir(host_dir)) == ["secret"]
    # /rootlink/etc/hostname is the container's own file, not the host's
    r = daemon.docker("cp", f"{running}:/rootlink/etc/hostname", str(tmp_path / "h"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "h").read_bytes().strip() == running_hostname(daemon, running)


def test_archive_entries_cannot_climb_out(
    client: docker.DockerClient, running: str, host_dir: Path
) -> None:
    c = client.containers.get(running)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("evil")
        link.type = tarfile.SYMTYPE
        link.linkname = str(host_dir)
        tf.addfile(link)
        data = b"pwned\n"
        ti = tarfile.TarInfo("evil/pwned")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
        ti2 = tarfile.TarInfo(f"../../../../../../..{host_dir}/pwned2")
        ti2.size = len(data)
        tf.addfile(ti2, io.BytesIO(data))
    with pytest.raises(docker.errors.APIError):
        c.put_archive("/tmp", buf.getvalue())
    assert sorted(os.listdir(host_dir)) == ["secret"]


def test_a_symlink_swapped_in_during_copies_never_reaches_the_host(
    daemon: Daemon, running: str, host_dir: Path
) -> None:
    # The container flips /w/x between a directory and a symlink to the host
    # directory's path as fast as it can while we copy /w/x/secret out.
    script = (
        f"mkdir -p /w/real; echo inside > /w/real/secret; "
        f"while true; do ln -sfn {host_dir} /w/x; rm -f /w/x; ln -sfn /w/real /w/x; "
        f"rm -f /w/x; done"
    )
    daemon.docker("exec", "-d", running, "sh", "-c", script, check=True)
    seen = set()
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and len(seen) < 30:
        p = subprocess.run(
            ["docker", "cp", f"{running}:/w/x/secret", "-"], env=daemon.env(),
            capture_output=True, timeout=30,
        )  # fmt: skip
        assert b"HOST SECRET" not in p.stdout
        seen.add(p.returncode)
        if p.returncode == 0:
            seen.add(len(p.stdout))
    assert daemon.docker("inspect", "-f", "{{.State.Status}}", running).stdout.strip() == "running"


def test_put_get_archive_docker_py(client: docker.DockerClient, running: str) -> None:
    c = client.containers.get(running)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"docker-py\n"
        ti = tarfile.TarInfo("dp/file")
        ti.size = len(data)
        ti.mode = 0o640
        ti.uid = ti.gid = 1234
        tf.addfile(ti, io.BytesIO(data))
    assert c.put_archive("/tmp", buf.getvalue()) is True
    chunks, st = c.get_archive("/tmp/dp/file")
    assert st["name"] == "file" and st["size"] == 10 and st["mode"] == 0o640
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
        m = tf.getmember("file")
        assert (m.uid, m.gid, m.mode) == (1234, 1234, 0o640)
        assert tf.extractfile(m).read() == b"docker-py\n"
    _, st = c.get_archive("/tmp/dp")
    assert st["mode"] & (1 << 31)  # Go's os.ModeDir
    with pytest.raises(docker.errors.NotFound):
        c.get_archive("/no/such/path")


def test_cp_does_not_replace_a_directory_with_a_file(
    daemon: Daemon, running: str, tmp_path: Path
) -> None:
    daemon.docker("exec", running, "sh", "-c", "mkdir -p /tmp/x/sub; echo f > /tmp/y", check=True)
    (tmp_path / "x").write_text("file\n")
    (tmp_path / "y").mkdir()
    r = daemon.docker("cp", str(tmp_path / "x"), f"{running}:/tmp/")
    assert r.returncode == 1
    assert 'cannot overwrite directory "/tmp/x" with non-directory "/tmp"' in r.stderr
    r = daemon.docker("cp", str(tmp_path / "y"), f"{running}:/tmp/")
    assert 'cannot overwrite non-directory "/tmp/y" with directory "/tmp"' in r.stderr
    r = daemon.docker("exec", running, "sh", "-c", "ls /tmp/x; cat /tmp/y")
    assert r.stdout == "sub\nf\n"
