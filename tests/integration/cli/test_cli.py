"""The dockyard CLI against a real daemon: output, errors and exit codes as docker's."""

from __future__ import annotations

import json
import re
import uuid

import pytest

pytestmark = pytest.mark.integration


def name() -> str:
    return f"dy-{uuid.uuid4().hex[:10]}"


def without_warnings(stderr: str) -> str:
    """Drop daemon warnings (e.g. IPv4 forwarding disabled on a bridge-less peer)."""
    return "".join(line for line in stderr.splitlines(True) if not line.startswith("WARNING: "))


def test_run_rm_echo(dockyard, busybox) -> None:
    result = dockyard("run", "--rm", busybox, "echo", "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n")
    assert without_warnings(result.stderr) == ""


def test_run_separates_streams_and_returns_the_exit_code(dockyard, busybox) -> None:
    result = dockyard("run", "--rm", busybox, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert without_warnings(result.stderr) == "err\n"


def test_run_rm_removes_the_container(dockyard, busybox) -> None:
    n = name()
    assert dockyard("run", "--rm", "--name", n, busybox, "true").returncode == 0
    assert dockyard("ps", "-a", "-q", "--filter", f"name={n}").stdout == ""


@pytest.mark.parametrize(
    ("command", "status", "fragment"),
    [
        ("nosuchcmd", 127, "executable file not found"),
        ("/etc/passwd", 126, "permission denied"),
    ],
)
def test_run_start_errors(dockyard, busybox, command, status, fragment) -> None:
    result = dockyard("run", "--rm", busybox, command)
    assert result.returncode == status
    stderr = without_warnings(result.stderr)
    assert stderr.startswith("dockyard: Error response from daemon: ")
    assert fragment in stderr
    assert stderr.endswith(".\n")


def test_run_unknown_flag(dockyard) -> None:
    result = dockyard("run", "--nosuch", "busybox")
    assert result.returncode == 125
    assert result.stderr == "unknown flag: --nosuch\nSee 'dockyard run --help'.\n"


def test_run_without_image(dockyard) -> None:
    result = dockyard("run")
    assert result.returncode == 1
    assert result.stderr.startswith('"dockyard run" requires at least 1 argument.\n')


def test_run_pulls_a_missing_image(dockyard) -> None:
    result = dockyard("run", "--rm", "localhost:1/dy-nosuch")
    assert result.returncode == 125
    assert result.stderr.startswith(
        "Unable to find image 'localhost:1/dy-nosuch:latest' locally\n"
        "dockyard: Error response from daemon: "
    )
    assert result.stderr.endswith("\nSee 'dockyard run --help'.\n")


def test_run_interactive_stdin(dockyard, busybox) -> None:
    result = dockyard("run", "--rm", "-i", busybox, "sh", "-c", "cat; echo done", input=b"a\nb\n")
    assert (result.returncode, result.stdout) == (0, "a\nb\ndone\n")


def test_run_flags_reach_the_container(dockyard, busybox) -> None:
    result = dockyard(
        "run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-h", "box", "-u", "1:2",
        busybox, "sh", "-c", 'echo "$FOO $(pwd) $(hostname) $(id -u):$(id -g)"',
    )  # fmt: skip
    assert result.stdout == "bar /tmp box 1:2\n"
    result = dockyard("run", "--rm", "--entrypoint", "echo", busybox, "via", "entrypoint")
    assert result.stdout == "via entrypoint\n"


def test_detached_lifecycle(dockyard, busybox) -> None:
    n = name()
    result = dockyard(
        "run", "-d", "--name", n, "-l", "dy.test=1", busybox,
        "sh", "-c", "echo started; echo oops >&2; sleep 30",
    )  # fmt: skip
    assert result.returncode == 0
    full_id = result.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", full_id)
    try:
        ps = dockyard("ps", "--filter", f"name={n}")
        lines = ps.stdout.splitlines()
        assert re.fullmatch(
            r"CONTAINER ID   IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES", lines[0]
        )
        assert lines[1].startswith(full_id[:12] + "   busybox")
        assert '"sh -c \'echo started…"' in lines[1]
        assert re.search(r"   Up (Less than a second|\d+ seconds?)   ", lines[1])
        assert lines[1].endswith(f"   {n}")
        assert dockyard("ps", "-q", "--filter", f"name={n}").stdout == full_id[:12] + "\n"
        assert dockyard("ps", "-q", "--no-trunc", "--filter", f"name={n}").stdout == full_id + "\n"
        fmt = dockyard("ps", "--filter", f"name={n}", "--format", '{{.Names}} {{.Label "dy.test"}}')
        assert fmt.stdout == f"{n} 1\n"
        row = json.loads(dockyard("ps", "--filter", f"name={n}", "--format", "{{json .}}").stdout)
        assert row["ID"] == full_id[:12] and row["State"] == "running"

        import time

        deadline = time.monotonic() + 10
        while "oops" not in (logs := dockyard("logs", n)).stderr and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (logs.stdout, logs.stderr) == ("started\n", "oops\n")
        stamped = dockyard("logs", "-t", "--tail", "1", n)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\S+Z oops\n", stamped.stderr)

        assert dockyard("inspect", "-f", "{{.State.Status}} {{.Id}}", n).stdout == (
            f"running {full_id}\n"
        )
        stop = dockyard("stop", "-t", "1", n)
        assert (stop.returncode, stop.stdout) == (0, f"{n}\n")
        assert dockyard("wait", n).stdout == "137\n"
        status = dockyard("ps", "-a", "--filter", f"name={n}", "--format", "{{.Status}}").stdout
        assert status.startswith("Exited (137) ")
    finally:
        rm = dockyard("rm", "-f", n)
    assert (rm.returncode, rm.stdout) == (0, f"{n}\n")


def test_create_start_attach(dockyard, busybox) -> None:
    n = name()
    created = dockyard("create", "--name", n, busybox, "sh", "-c", "echo made; exit 4")
    assert re.fullmatch(r"[0-9a-f]{64}\n", created.stdout)
    try:
        assert dockyard("inspect", "-f", "{{.State.Status}}", n).stdout == "created\n"
        started = dockyard("start", "-a", n)
        assert (started.returncode, started.stdout) == (4, "made\n")
        again = dockyard("start", n)
        assert (again.returncode, again.stdout) == (0, f"{n}\n")
    finally:
        dockyard("rm", "-f", n)


def test_kill_and_restart(dockyard, busybox) -> None:
    n = name()
    dockyard("run", "-d", "--name", n, busybox, "sleep", "30")
    try:
        assert dockyard("restart", "-t", "0", n).stdout == f"{n}\n"
        assert dockyard("inspect", "-f", "{{.State.Running}}", n).stdout == "true\n"
        assert dockyard("kill", "-s", "KILL", n).stdout == f"{n}\n"
        assert dockyard("wait", n).stdout == "137\n"
        again = dockyard("kill", n)
        assert again.returncode == 1
        assert again.stderr.startswith("Error response from daemon: ")
    finally:
        dockyard("rm", "-f", n)


@pytest.mark.parametrize(
    "args",
    [
        ("rm", "nosuch"),
        ("logs", "nosuch"),
        ("stop", "nosuch"),
        ("kill", "nosuch"),
        ("wait", "nosuch"),
    ],
)
def test_unknown_container(dockyard, args) -> None:
    result = dockyard(*args)
    assert result.returncode == 1
    # dockerd words kill's as "Cannot kill container: nosuch: No such container: nosuch"
    assert result.stderr.startswith("Error response from daemon: ")
    assert result.stderr.endswith("No such container: nosuch\n")
    assert result.stderr.count("\n") == 1


def test_inspect_unknown_object(dockyard) -> None:
    result = dockyard("inspect", "nosuch")
    assert (result.returncode, result.stdout) == (1, "[]\n")
    assert result.stderr == "Error: No such object: nosuch\n"


def test_inspect_image_json(dockyard, busybox) -> None:
    result = dockyard("inspect", busybox)
    [image] = json.loads(result.stdout)
    assert image["Id"].startswith("sha256:")
    assert result.stdout.startswith("[\n    {\n        ")
    assert dockyard("inspect", "-f", "{{.Config.Cmd}}", busybox).stdout == "[sh]\n"
    assert dockyard("inspect", "-f", "{{json .Config.Cmd}}", busybox).stdout == '["sh"]\n'
    bad = dockyard("inspect", "-f", "{{.Nope}}", busybox)
    assert bad.returncode == 1
    assert 'map has no entry for key "Nope"' in bad.stderr


def test_images_import_tag_rmi(dockyard, busybox, tmp_path) -> None:
    import subprocess

    from .conftest import REPO

    tar = tmp_path / "rootfs.tar"
    subprocess.run([str(REPO / "scripts/make-busybox-rootfs.sh"), "--tar", str(tar)], check=True)
    repo = name()
    imported = dockyard("import", "-c", 'CMD ["echo", "imported"]', "-m", "msg", "-", f"{repo}:v1",
                        input=tar.read_bytes())  # fmt: skip
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", imported.stdout), imported.stderr
    image_id = imported.stdout.strip()
    try:
        images = dockyard("images", repo).stdout.splitlines()
        assert re.fullmatch(r"REPOSITORY +TAG +IMAGE ID +CREATED +SIZE", images[0])
        assert re.fullmatch(
            rf"{repo}   v1        {image_id[7:19]}   \S.* ago +\d+(\.\d+)?MB", images[1]
        ), images
        assert dockyard("images", "-q", repo).stdout == image_id[7:19] + "\n"
        assert dockyard("images", "-q", "--no-trunc", repo).stdout == image_id + "\n"
        assert "DIGEST" in dockyard("images", "--digests", repo).stdout
        assert dockyard("tag", f"{repo}:v1", f"{repo}:v2").returncode == 0
        assert len(dockyard("images", "-q", repo).stdout.splitlines()) == 2
        assert dockyard("run", "--rm", f"{repo}:v2").stdout == "imported\n"
        assert dockyard("inspect", "-f", "{{.Comment}}", f"{repo}:v1").stdout == "msg\n"
        assert dockyard("rmi", f"{repo}:v2").stdout == f"Untagged: {repo}:v2\n"
    finally:
        removed = dockyard("rmi", f"{repo}:v1")
    assert removed.stdout.startswith(f"Untagged: {repo}:v1\nDeleted: {image_id}\n")
    missing = dockyard("rmi", repo)
    assert missing.returncode == 1
    assert missing.stderr == f"Error response from daemon: No such image: {repo}:latest\n"


def test_version_and_info(dockyard) -> None:
    version = dockyard("version")
    assert version.returncode == 0
    assert version.stdout.startswith("Client:\n Version:           ")
    assert "\nServer:" in version.stdout and "\n Engine:\n  Version:" in version.stdout
    assert dockyard("version", "-f", "{{.Client.Version}}").stdout.strip()
    info = dockyard("info")
    assert info.returncode == 0 and "\n Containers: " in info.stdout
    assert dockyard("info", "-f", "{{.OSType}}").stdout == "linux\n"


def test_unreachable_daemon(tmp_path) -> None:
    from .conftest import Dockyard

    result = Dockyard(f"unix://{tmp_path}/none.sock")("ps")
    assert result.returncode == 1
    assert "Is the dockyard daemon running?" in result.stderr
