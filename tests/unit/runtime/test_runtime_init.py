from __future__ import annotations

import os
import stat

import pytest

from dockyard.runtime.cli import UsageError, _parse_flags
from dockyard.runtime.init import ExecLookupError, env_dict, home_dir, lookup_executable
from dockyard.runtime.sync import Channel, SyncError


def _stat(files: dict[str, int]):
    def fake(path: str):
        if path not in files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return os.stat_result((files[path], 0, 0, 1, 0, 0, 0, 0, 0, 0))

    return fake


FILES = {
    "/bin/sh": stat.S_IFREG | 0o755,
    "/usr/bin/data": stat.S_IFREG | 0o644,
    "/bin/data": stat.S_IFREG | 0o755,
    "/bin/dir": stat.S_IFDIR | 0o755,
}


@pytest.mark.parametrize(
    ("name", "path", "found"),
    [
        ("sh", "/usr/bin:/bin", "/bin/sh"),
        ("data", "/usr/bin:/bin", "/bin/data"),  # a non-executable match is skipped
        ("/bin/sh", "", "/bin/sh"),
    ],
)
def test_lookup_finds(name, path, found):
    assert lookup_executable(name, path, _stat(FILES)) == found


@pytest.mark.parametrize(
    ("name", "path", "message"),
    [
        ("nope", "/usr/bin:/bin", 'exec: "nope": executable file not found in $PATH'),
        ("sh", "", 'exec: "sh": executable file not found in $PATH'),
        ("dir", "/bin", 'exec: "dir": executable file not found in $PATH'),
        ("/usr/bin/data", "/bin", 'exec: "/usr/bin/data": permission denied'),
        ("/bin/dir", "/bin", 'exec: "/bin/dir": permission denied'),
        ("/x/y", "/bin", 'exec: "/x/y": stat /x/y: no such file or directory'),
    ],
)
def test_lookup_errors(name, path, message):
    with pytest.raises(ExecLookupError) as info:
        lookup_executable(name, path, _stat(FILES))
    assert info.value.strerror == message


def test_env_dict_last_wins():
    assert env_dict(["A=1", "B=x=y", "A=2", "C"]) == {"A": "2", "B": "x=y", "C": ""}


def test_home_dir(tmp_path):
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n")
    assert home_dir(1000, str(passwd)) == "/home/u"
    assert home_dir(5, str(passwd)) == "/"


def test_channel_messages_and_eof():
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    child, parent = Channel(r1, w2), Channel(r2, w1)
    child.send("pid", pid=42)
    child.send("ready")
    child.send("error", message='exec: "x": not found')
    assert parent.expect("pid") == {"pid": 42, "type": "pid"}
    assert parent.expect("ready")["type"] == "ready"
    with pytest.raises(SyncError, match='exec: "x"'):
        parent.expect("ready")
    child.close()
    with pytest.raises(SyncError, match="exited prematurely"):
        parent.expect("ready")
    parent.close()


def test_cli_flags():
    flags, rest = _parse_flags(
        ["-b", "/x", "--pid-file=/p", "--detach", "id"],
        {"bundle": True, "pid-file": True, "detach": False},
        False,
    )
    assert flags == {"bundle": "/x", "pid-file": "/p", "detach": True} and rest == ["id"]
    with pytest.raises(UsageError, match="not defined"):
        _parse_flags(["--nope"], {}, False)
    flags, rest = _parse_flags(["--root", "/r", "kill", "--all", "x"], {"root": True}, True)
    assert flags == {"root": "/r"} and rest == ["kill", "--all", "x"]
