"""`docker commit` and `DOCKER_BUILDKIT=0 docker build` against a real dockyardd:
resulting configs, files, history, cache hits/misses and clean failures."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import Daemon, inspect


def build(
    d: Daemon, ctx: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = d.env()
    env["DOCKER_BUILDKIT"] = "0"
    p = subprocess.run(
        ["docker", "build", *args, str(ctx)], env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    return p


def write(ctx: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return ctx


def run(d: Daemon, image: str, *cmd: str) -> str:
    r = d.docker("run", "--rm", "--network", "none", image, *cmd, check=True)
    return r.stdout


def containers(d: Daemon) -> list[str]:
    return d.docker("ps", "-aq").stdout.split()


@pytest.fixture
def tag() -> str:
    return f"bt{uuid.uuid4().hex[:10]}"


@pytest.fixture
def cleanup(daemon: Daemon):
    names: list[str] = []
    yield names
    if names:
        daemon.docker("rmi", "-f", *names)


def test_commit_with_changes_and_whiteouts(daemon: Daemon, tag: str, cleanup: list[str]) -> None:
    name = f"c{tag}"
    daemon.docker("run", "--network", "none", "--name", name, "busybox", "sh", "-c",
                  "echo hi > /hello && rm /bin/vi", check=True)  # fmt: skip
    try:
        r = daemon.docker("commit", "-c", 'CMD ["cat", "/hello"]', "-c", "ENV X=1",
                          "-m", "msg", "-a", "me", name, f"{tag}:v1", check=True)  # fmt: skip
        cleanup.append(f"{tag}:v1")
        assert r.stdout.strip().startswith("sha256:")
    finally:
        daemon.docker("rm", "-f", name)
    assert run(daemon, f"{tag}:v1") == "hi\n"
    r = daemon.docker("run", "--rm", "--network", "none", f"{tag}:v1", "ls", "/bin/vi")
    assert r.returncode != 0
    info = inspect(daemon, f"{tag}:v1")
    assert info["Author"] == "me" and info["Comment"] == "msg"
    assert "X=1" in info["Config"]["Env"]
    assert len(info["RootFS"]["Layers"]) == len(inspect(daemon, "busybox")["RootFS"]["Layers"]) + 1
    hist = json.loads(daemon.docker("history", "--no-trunc", "--format", "{{json .}}",
                                    f"{tag}:v1").stdout.splitlines()[0])  # fmt: skip
    assert "echo hi" in hist["CreatedBy"] and hist["Comment"] == "msg"


def test_build_instructions(daemon: Daemon, tmp_path: Path, tag: str, cleanup: list[str]) -> None:
    ctx = write(tmp_path, {
        "Dockerfile": (
            "FROM busybox\n"
            "ARG V=1\n"
            'ENV A=hi B="x y"\n'
            "LABEL k=$A\n"
            "WORKDIR /app\n"
            "WORKDIR sub\n"
            "COPY a.txt d ./\n"
            "COPY --chmod=600 --chown=1:2 a.txt /etc/a2\n"
            'RUN echo "run $A $V" > /out.txt && stat -c "%a %u %g" /etc/a2 >> /out.txt\n'
            "COPY <<EOF /h.txt\nhd $A\nEOF\n"
            'SHELL ["/bin/sh", "-ec"]\n'
            "RUN pwd >> /out.txt\n"
            "EXPOSE 80 53/udp\n"
            "VOLUME /data\n"
            "USER 1000\n"
            "STOPSIGNAL SIGKILL\n"
            "HEALTHCHECK --interval=5s --retries=2 CMD true\n"
            'ENTRYPOINT ["cat"]\n'
            'CMD ["/out.txt"]\n'
            "ONBUILD RUN echo child\n"
        ),
        "a.txt": "hello\n",
        "d/x": "x\n",
        "skip.log": "no\n",
        ".dockerignore": "*.log\n",
    })  # fmt: skip
    r = build(daemon, ctx, "-t", tag, "--build-arg", "V=2", "--label", "extra=yes")
    cleanup.append(tag)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Step 1/21 : FROM busybox" in r.stdout
    assert f"Successfully tagged {tag}:latest" in r.stdout
    assert run(daemon, tag) == "run hi 2\n600 1 2\n/app/sub\n"
    assert run(daemon, tag, "/h.txt") == "hd hi\n"
    assert run(daemon, tag, "/app/sub/x") == "x\n"
    r = daemon.docker("run", "--rm", "--network", "none", "--entrypoint", "ls", tag, "/app/sub")
    assert r.stdout.split() == ["a.txt", "x"]
    cfg = inspect(daemon, tag)["Config"]
    assert cfg["Labels"] == {"k": "hi", "extra": "yes"}
    assert cfg["WorkingDir"] == "/app/sub" and cfg["User"] == "1000"
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp"}
    assert set(cfg["Volumes"]) == {"/data"} and cfg["StopSignal"] == "SIGKILL"
    assert cfg["Healthcheck"] == {
        "Test": ["CMD-SHELL", "true"],
        "Interval": 5_000_000_000,
        "Retries": 2,
    }
    assert cfg["Entrypoint"] == ["cat"] and cfg["Cmd"] == ["/out.txt"]
    assert cfg["OnBuild"] == ["RUN echo child"] and cfg["Shell"] == ["/bin/sh", "-ec"]
    assert (
        "A=hi" in cfg["Env"]
        and "B=x y" in cfg["Env"]
        and not any(e.startswith("V=") for e in cfg["Env"])
    )
    hist = daemon.docker(
        "history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", tag
    ).stdout
    lines = hist.splitlines()
    assert lines[0].endswith('#(nop)  LABEL "extra"="yes"|0B') or "LABEL" in lines[0]
    assert any(line.startswith('|1 V=2 /bin/sh -c echo "run $A $V"') for line in lines)
    assert not containers(daemon) or all(tag not in c for c in containers(daemon))

    # ONBUILD triggers run in a child
    child = write(tmp_path / "child", {"Dockerfile": f"FROM {tag}\nRUN true\n"})
    r = build(daemon, child, "-t", f"{tag}-child")
    cleanup.append(f"{tag}-child")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "# Executing 1 build trigger" in r.stdout and "child\n" in r.stdout
    assert inspect(daemon, f"{tag}-child")["Config"]["OnBuild"] is None


def test_cache_hits_and_one_file_change(
    daemon: Daemon, tmp_path: Path, tag: str, cleanup: list[str]
) -> None:
    ctx = write(tmp_path, {
        "Dockerfile": "FROM busybox\nCOPY a /a\nRUN cat /a > /b\nCOPY c /c\nRUN cat /c\n",
        "a": "1\n", "c": "3\n",
    })  # fmt: skip
    first = build(daemon, ctx, "-t", tag)
    cleanup.append(tag)
    assert first.returncode == 0, first.stderr
    assert "Using cache" not in first.stdout
    again = build(daemon, ctx, "-t", tag)
    assert again.stdout.count("Using cache") == 4
    (ctx / "c").write_text("changed\n")
    changed = build(daemon, ctx, "-t", tag)
    assert changed.stdout.count("Using cache") == 2, changed.stdout
    assert "changed" in changed.stdout
    nocache = build(daemon, ctx, "--no-cache", "-q")
    assert "Using cache" not in nocache.stdout
    image_id = nocache.stdout.strip()
    assert image_id.startswith("sha256:")
    daemon.docker("rmi", image_id)


def test_failed_build_is_clean_and_keeps_cache(daemon: Daemon, tmp_path: Path, tag: str) -> None:
    before = set(containers(daemon))
    ctx = write(tmp_path, {"Dockerfile": f"FROM busybox\nRUN echo {tag} > /f\nRUN exit 3\n"})
    r = build(daemon, ctx)
    assert r.returncode != 0
    assert "The command '/bin/sh -c exit 3' returned a non-zero code: 3" in r.stderr + r.stdout
    assert set(containers(daemon)) == before
    assert not [m for m in daemon.mounts_under_root() if "build-" in m]
    r2 = build(daemon, ctx)
    assert r2.stdout.count("Using cache") == 1


def test_multistage_target_and_copy_from(
    daemon: Daemon, tmp_path: Path, tag: str, cleanup: list[str]
) -> None:
    ctx = write(tmp_path, {
        "Dockerfile": (
            "ARG BASE=busybox\n"
            "FROM $BASE AS one\nRUN echo one > /one\n"
            "FROM busybox AS unused\nRUN exit 1\n"
            "FROM scratch AS final\nCOPY --from=one /one /copied\nCOPY --from=0 /bin/busybox /bin/sh\n"
            "FROM final AS last\nCMD [\"/bin/sh\"]\n"
        ),
    })  # fmt: skip
    r = build(daemon, ctx, "-t", tag, "--target", "final")
    cleanup.append(tag)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "exit 1" not in r.stdout  # the unneeded stage is skipped
    info = inspect(daemon, tag)
    assert len(info["RootFS"]["Layers"]) == 2
    assert run(daemon, tag, "/bin/sh", "-c", "read l < /copied; echo $l") == "one\n"
    r = build(daemon, ctx, "--target", "nope")
    assert "failed to reach build target nope" in r.stderr + r.stdout


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        ("FROM busybox\nRUNN x\n", "dockerfile parse error on line 2: unknown instruction: RUNN"),
        ("FROM nosuchimage-xyz\n", "pull access denied for nosuchimage-xyz"),
        ("FROM busybox\nCOPY missing /x\n", "file not found in build context"),
        ("FROM busybox\nCOPY a b /dst\n", "the destination must be a directory and end with a /"),
        ("FROM busybox\nADD http://127.0.0.1:9/x /x\n", "ADD failed: cannot fetch"),
        ("FROM --platform=linux/s390x busybox\n", "does not match the host platform"),
    ],
)
def test_build_errors(daemon: Daemon, tmp_path: Path, dockerfile: str, message: str) -> None:
    ctx = write(tmp_path, {"Dockerfile": dockerfile, "a": "a", "b": "b"})
    r = build(daemon, ctx)
    assert r.returncode != 0
    assert message in r.stdout + r.stderr


def test_add_extracts_tar_and_docker_py(
    daemon: Daemon, tmp_path: Path, tag: str, cleanup: list[str]
) -> None:
    import tarfile

    src = tmp_path / "src"
    write(src, {"inner/f.txt": "in tar\n"})
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with tarfile.open(ctx / "a.tar.gz", "w:gz") as tf:
        tf.add(src / "inner", arcname="inner")
    write(ctx, {"Dockerfile": "FROM busybox\nADD a.tar.gz /x/\nCOPY *.tar.gz /keep/\n"})
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host)
    try:
        image, logs = client.images.build(path=str(ctx), tag=tag, rm=True)
        cleanup.append(tag)
        assert any("Successfully built" in (m.get("stream") or "") for m in logs)
    finally:
        client.close()
    assert run(daemon, tag, "cat", "/x/inner/f.txt") == "in tar\n"
    assert run(daemon, tag, "ls", "/keep") == "a.tar.gz\n"


def test_independent_stages_run_in_parallel(daemon: Daemon, tmp_path: Path, tag: str) -> None:
    import time

    ctx = write(tmp_path, {
        "Dockerfile": (
            f"FROM busybox AS a\nRUN sleep 3; echo {tag}a > /a\n"
            f"FROM busybox AS b\nRUN sleep 3; echo {tag}b > /b\n"
            "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nRUN cat /a /b\n"
        ),
    })  # fmt: skip
    t0 = time.monotonic()
    r = build(daemon, ctx, "-q")
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert elapsed < 5.5, f"stages ran one after the other: {elapsed:.1f}s"
    image_id = r.stdout.strip()
    try:
        assert run(daemon, image_id, "cat", "/a", "/b") == f"{tag}a\n{tag}b\n"
    finally:
        daemon.docker("rmi", image_id)
    # the stream stays in Dockerfile order
    r = build(daemon, ctx)
    steps = [line for line in r.stdout.splitlines() if line.startswith("Step ")]
    assert [s.split(" :")[0] for s in steps] == [f"Step {i}/8" for i in range(1, 9)]


def test_failing_parallel_stage_cleans_up(daemon: Daemon, tmp_path: Path, tag: str) -> None:
    before = set(containers(daemon))
    ctx = write(tmp_path, {
        # the failing stage first: the later one, still running, is cancelled (an
        # earlier one would run to its end, as under dockerd, to say all it says)
        "Dockerfile": (
            "FROM busybox AS b\nRUN exit 7\n"
            f"FROM busybox AS a\nRUN sleep 20; echo {tag}\n"
            "FROM busybox\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n"
        ),
    })  # fmt: skip
    r = build(daemon, ctx, timeout=15)
    assert r.returncode != 0 and "returned a non-zero code: 7" in r.stdout + r.stderr
    assert set(containers(daemon)) == before
    assert not [m for m in daemon.mounts_under_root() if "build-" in m]


def test_dockyard_build_sends_only_changed_files(
    daemon: Daemon, tmp_path: Path, tag: str, cleanup: list[str]
) -> None:
    ctx = write(tmp_path, {
        "Dockerfile": "FROM busybox\nCOPY . /c/\nCMD [\"ls\", \"/c\"]\n",
        "keep": "k\n", "gone": "g\n", "big": "b" * 4_000_000, "x.log": "ignored\n",
        ".dockerignore": "*.log\n",
    })  # fmt: skip
    cleanup.append(tag)
    r = daemon.dockyard("build", "-t", tag, str(ctx), check=True)
    assert "Successfully tagged" in r.stdout
    assert run(daemon, tag).split() == ["Dockerfile", "big", "gone", "keep"]
    r = daemon.dockyard("build", "-t", tag, str(ctx), check=True)
    assert r.stdout.count("Using cache") == 2
    (ctx / "gone").unlink()
    (ctx / "keep").write_text("changed\n")
    daemon.dockyard("build", "-t", tag, str(ctx), check=True)
    assert run(daemon, tag).split() == ["Dockerfile", "big", "keep"]
    assert run(daemon, tag, "cat", "/c/keep") == "changed\n"
    # -f - with the same context dir
    r = daemon.dockyard("build", "-q", "-f", "-", str(ctx), input=b"FROM busybox\nCOPY keep /k\n",
                        check=True)  # fmt: skip
    image_id = r.stdout.strip()
    assert run(daemon, image_id, "cat", "/k") == "changed\n"
    daemon.docker("rmi", image_id)


def test_intermediate_images_hidden_and_pruned_with_rmi(
    daemon: Daemon, tmp_path: Path, tag: str
) -> None:
    before_all = set(daemon.docker("images", "-aq", "--no-trunc").stdout.split())
    ctx = write(
        tmp_path,
        {"Dockerfile": f'FROM busybox\nENV T={tag}\nRUN echo {tag} > /t\nCMD ["cat", "/t"]\n'},
    )
    r = build(daemon, ctx, "-t", tag)
    assert r.returncode == 0, r.stderr
    after_all = set(daemon.docker("images", "-aq", "--no-trunc").stdout.split())
    new = after_all - before_all
    assert len(new) == 3  # ENV, RUN, CMD
    listed = set(daemon.docker("images", "-q", "--no-trunc").stdout.split())
    assert new & listed == {inspect(daemon, tag)["Id"]}  # the steps only with -a
    r = daemon.docker("rmi", tag, check=True)
    assert r.stdout.count("Deleted:") >= 3
    assert set(daemon.docker("images", "-aq", "--no-trunc").stdout.split()) == before_all


def test_cache_survives_daemon_restart(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    from tests.conftest import BUSYBOX_PATH, kill_leftovers, start_daemon, stop_daemon

    root = tmp_path / "own"
    root.mkdir()
    ctx = write(
        tmp_path / "ctx",
        {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN cat /f > /g\nENV X=1\n", "f": "1\n"},
    )
    d = start_daemon(root)
    try:
        d.docker(
            "import",
            "-c",
            f"ENV PATH={BUSYBOX_PATH}",
            str(busybox_rootfs_tar),
            "busybox:latest",
            check=True,
        )
        first = build(d, ctx)
        assert first.returncode == 0, first.stderr
        stop_daemon(d)
        # what a daemon killed mid-build leaves in the scratch dir goes at start
        scratch = root / "data" / "builder" / "tmp"
        (scratch / "build-ctx-left").mkdir()
        (scratch / "build-ctx-left.tar").write_bytes(b"\0" * 1024)
        d = start_daemon(root)
        assert list(scratch.iterdir()) == []
        again = build(d, ctx)
        assert again.returncode == 0, again.stderr
        assert again.stdout.count("Using cache") == 3
        assert (
            first.stdout.split("Successfully built ")[1][:12]
            == again.stdout.split("Successfully built ")[1][:12]
        )
    finally:
        stop_daemon(d)
        kill_leftovers(root)


def test_dockerfile_alone_from_stdin(daemon: Daemon, tag: str, cleanup: list[str]) -> None:
    env = daemon.env()
    env["DOCKER_BUILDKIT"] = "0"
    r = subprocess.run(["docker", "build", "-t", tag, "-"], input=f"FROM busybox\nRUN echo {tag} > /s\n",
                       env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    cleanup.append(tag)
    assert r.returncode == 0, r.stderr
    assert run(daemon, tag, "cat", "/s") == f"{tag}\n"
    # a context tar from stdin too
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"FROM busybox\nCOPY f /f\n"
        for name, content in (("Dockerfile", data), ("f", b"from tar\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(content)
            tf.addfile(ti, io.BytesIO(content))
    r = subprocess.run(["docker", "build", "-q", "-"], input=buf.getvalue(), env=env,
                       capture_output=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.decode().strip()
    assert run(daemon, image_id, "cat", "/f") == "from tar\n"
    daemon.docker("rmi", image_id)


def test_commit_running_container_paused(daemon: Daemon, tag: str, cleanup: list[str]) -> None:
    name = f"r{tag}"
    daemon.docker("run", "-d", "--network", "none", "--name", name, "busybox", "sh", "-c",
                  "echo live > /live; sleep 30", check=True)  # fmt: skip
    try:
        import time

        for _ in range(50):
            if daemon.docker("exec", name, "cat", "/live").stdout == "live\n":
                break
            time.sleep(0.1)
        daemon.docker("commit", name, f"{tag}:run", check=True)
        cleanup.append(f"{tag}:run")
        assert inspect(daemon, name)["State"]["Status"] == "running"  # thawed again
        assert run(daemon, f"{tag}:run", "cat", "/live") == "live\n"
        daemon.docker("commit", "--pause=false", name, f"{tag}:nopause", check=True)
        cleanup.append(f"{tag}:nopause")
    finally:
        daemon.docker("rm", "-f", name)


def test_cache_from_a_loaded_image(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    from tests.conftest import BUSYBOX_PATH, kill_leftovers, start_daemon, stop_daemon

    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nENV A=1\nCOPY f /f\nRUN cat /f > /g\nCMD [\"cat\", \"/g\"]\n",
        "f": "cached\n",
    })  # fmt: skip
    archive = tmp_path / "x.tar"
    built = ""
    for n, step in enumerate(("build", "reuse")):
        root = tmp_path / f"d{n}"
        root.mkdir()
        d = start_daemon(root)
        try:
            d.docker("import", "-c", f"ENV PATH={BUSYBOX_PATH}", str(busybox_rootfs_tar),
                     "busybox:latest", check=True)  # fmt: skip
            if step == "build":
                r = build(d, ctx, "-t", "x:1")
                assert r.returncode == 0, r.stderr
                built = inspect(d, "x:1")["Id"]
                d.docker("save", "-o", str(archive), "x:1", check=True)
            else:
                d.docker("load", "-i", str(archive), check=True)
                r = build(d, ctx, "--cache-from", "x:1", "-t", "y:1")
                assert r.returncode == 0, r.stderr
                assert r.stdout.count("Using cache") == 4, r.stdout
                assert inspect(d, "y:1")["Id"] == built
                assert run(d, "y:1") == "cached\n"
        finally:
            stop_daemon(d)
            kill_leftovers(root)


def test_docker_cli_and_dockyard_build_share_cache_keys(
    daemon: Daemon, tmp_path: Path, tag: str, cleanup: list[str]
) -> None:
    """The same context gives the same keys whether it came as the docker CLI's
    tar (indexed, not unpacked) or through dockyard build's kept context; the
    Dockerfile and .dockerignore are not COPY-able when .dockerignore excludes
    them, nor is a Dockerfile from outside the context."""
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nCOPY . /c/\nRUN find /c | sort > /listing\n",
        "app/run.sh": "#!/bin/sh\necho hi\n", "app/sub/data": "d" * 70_000, "x.log": "no\n",
        "logs/keep.txt": "kept\n", "logs/drop.txt": "dropped\n", "empty/drop.txt": "dropped\n",
        ".dockerignore": "*.log\nDockerfile\n.dockerignore\nlogs\n!logs/keep.txt\nempty\n"
                         "!empty/none\n",
    })  # fmt: skip
    (ctx / "app" / "run.sh").chmod(0o755)
    (ctx / "logs").chmod(0o775)  # sent as docker's CLI does: implied by logs/keep.txt, 0755
    (ctx / "app" / "link").symlink_to("sub/data")
    cleanup.append(tag)
    first = build(daemon, ctx, "-q", "-t", tag)
    assert first.returncode == 0, first.stderr
    image_id = first.stdout.strip()
    listing = ("/c\n/c/app\n/c/app/link\n/c/app/run.sh\n/c/app/sub\n/c/app/sub/data\n"
               "/c/logs\n/c/logs/keep.txt\n")  # fmt: skip
    assert run(daemon, tag, "cat", "/listing") == listing
    again = daemon.dockyard("build", "-t", tag, str(ctx), check=True)
    assert again.stdout.count("Using cache") == 2, again.stdout
    assert f"Successfully built {image_id[7:19]}" in again.stdout
    # a change through dockyard build first, then the docker CLI agrees
    (ctx / "app" / "sub" / "data").write_text("changed\n")
    mine = daemon.dockyard("build", "-q", str(ctx), check=True).stdout.strip()
    assert mine != image_id
    theirs = build(daemon, ctx, "-q")
    assert theirs.stdout.strip() == mine, theirs.stderr
    # -f from outside the context: read, never copied (both clients)
    outside = write(tmp_path / "elsewhere", {"Dockerfile": "FROM busybox\nCOPY . /c/\n"})
    for client in ("dockyard", "docker"):
        if client == "docker":
            r = build(daemon, ctx, "-q", "-f", str(outside / "Dockerfile"))
        else:
            r = daemon.dockyard("build", "-q", "-f", str(outside / "Dockerfile"), str(ctx))
        assert r.returncode == 0, r.stderr
        files = sorted(run(daemon, r.stdout.strip(), "find", "/c").split())
        assert files == listing.split(), (client, files)
        daemon.docker("rmi", r.stdout.strip())
    daemon.docker("rmi", mine)


def test_malicious_context_is_refused(daemon: Daemon, tmp_path: Path) -> None:
    import io
    import tarfile

    docker = pytest.importorskip("docker")
    victim = tmp_path / "victim"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, link in (("Dockerfile", tarfile.REGTYPE, ""),
                                 ("esc", tarfile.SYMTYPE, str(tmp_path)),
                                 ("esc/victim", tarfile.REGTYPE, "")):  # fmt: skip
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname = kind, link
            data = b"FROM busybox\nCOPY . /c/\n" if ti.isreg() else b""
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    buf.seek(0)
    client = docker.APIClient(base_url=daemon.host)
    try:
        with pytest.raises(docker.errors.APIError) as err:
            list(client.build(fileobj=buf, custom_context=True, decode=True))
    finally:
        client.close()
    assert err.value.status_code == 400
    assert "invalid context entry 'esc/victim'" in str(err.value)
    assert not victim.exists()


def test_run_steps_use_the_default_bridge_unless_told(
    daemon: Daemon, tmp_path: Path, tag: str, cleanup: list[str]
) -> None:
    """As dockerd's classic builder: RUN has the daemon's default network
    (`RUN wget` works), `--network none|host` is honoured. The server is a
    listener on the test daemon's bridge gateway, nothing leaves the machine."""
    import http.server
    import threading

    args = json.loads((daemon.root / ".netargs").read_text())
    gateway = args[args.index("--bip") + 1].split("/")[0]

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"{tag}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((gateway, 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://{gateway}:{server.server_address[1]}/"
        ctx = write(tmp_path, {"Dockerfile": f"FROM busybox\nRUN wget -q -O /got {url}\n"})
        r = build(daemon, ctx, "-t", tag)
        cleanup.append(tag)
        assert r.returncode == 0, r.stdout + r.stderr
        assert run(daemon, tag, "cat", "/got") == f"{tag}\n"
        r = build(daemon, ctx, "--no-cache", "--network", "none")
        assert r.returncode != 0 and "returned a non-zero code" in r.stdout + r.stderr
        r = daemon.dockyard("build", "--no-cache", "--network", "none", str(ctx))
        assert r.returncode != 0 and "returned a non-zero code" in r.stdout + r.stderr
        r = build(daemon, ctx, "--no-cache", "-q", "--network", "host")
        assert r.returncode == 0, r.stdout + r.stderr
        daemon.docker("rmi", r.stdout.strip())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
