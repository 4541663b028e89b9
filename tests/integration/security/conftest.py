"""An image with a static syscall probe (probe.c) on top of busybox, for the security tests.

The probe is compiled with the host's gcc (static glibc), appended to the
session's busybox rootfs tar and imported through the daemon under a name
unique to the run; the image is removed at the end of the session.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX_PATH, Daemon

HERE = Path(__file__).resolve().parent


def build_probe(dest: Path) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the syscall probe")
    subprocess.run(
        ["gcc", "-static", "-O2", "-o", str(dest), str(HERE / "probe.c")],
        check=True,
        capture_output=True,
    )
    return dest


@pytest.fixture(scope="session")
def probe_binary(session_tmp: Path) -> Path:
    return build_probe(session_tmp / "probe")


@pytest.fixture(scope="session")
def probe_image(daemon: Daemon, session_tmp: Path, busybox_rootfs_tar: Path, probe_binary: Path):
    tar = session_tmp / "probe-image.tar"
    shutil.copy(busybox_rootfs_tar, tar)
    with tarfile.open(tar, "a") as t:
        info = t.gettarinfo(str(probe_binary), arcname="bin/probe")
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        with open(probe_binary, "rb") as f:
            t.addfile(info, f)
    name = f"dysec-probe:{uuid.uuid4().hex[:8]}"
    r = daemon.docker(
        "import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}", str(tar), name
    )
    assert r.returncode == 0, r.stderr
    yield name
    daemon.docker("rmi", "-f", name)


def status_field(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in {text!r}")


def probe_results(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _add_parents(t: tarfile.TarFile, name: str, made: set[str]) -> None:
    parts = name.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        directory = "/".join(parts[:i])
        if directory not in made:
            made.add(directory)
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            t.addfile(info)


@pytest.fixture(scope="session")
def host_python_image(daemon: Daemon, session_tmp: Path, busybox_rootfs_tar: Path):
    """busybox plus what the host's Python interpreter needs to start inside a container
    (its loader and libraries at their host paths, `encodings` under /pyhome): an image
    in which the host's interpreter, once reachable, would run (CVE-2019-5736 class)."""
    import os
    import sys

    exe = os.path.realpath(sys.executable)
    libs = []
    for line in subprocess.run(["ldd", exe], capture_output=True, text=True).stdout.splitlines():
        words = line.split()
        path = words[2] if "=>" in words and len(words) > 2 else words[0]
        if path.startswith("/"):
            libs.append(path)
    encodings = Path(os.__file__).parent / "encodings"
    tar = session_tmp / "host-python-image.tar"
    shutil.copy(busybox_rootfs_tar, tar)
    with tarfile.open(tar, "a") as t:
        made = {m.name.strip("./").rstrip("/") for m in t.getmembers() if m.isdir()}
        files = [(lib, lib.lstrip("/")) for lib in libs]
        files += [(str(p), f"pyhome/lib/python3.{sys.version_info[1]}/encodings/{p.name}")
                  for p in encodings.glob("*.py")]  # fmt: skip
        for source, name in files:
            _add_parents(t, name, made)
            info = t.gettarinfo(os.path.realpath(source), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(os.path.realpath(source), "rb") as f:
                t.addfile(info, f)
    name = f"dysec-hostpy:{uuid.uuid4().hex[:8]}"
    r = daemon.docker("import", "-c", 'CMD ["sh"]', "-c", f"ENV PATH={BUSYBOX_PATH}",
                      "-c", "ENV PYTHONHOME=/pyhome", str(tar), name)  # fmt: skip
    assert r.returncode == 0, r.stderr
    yield name
    daemon.docker("rmi", "-f", name)
