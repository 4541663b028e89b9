from __future__ import annotations

import pytest

from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services import ocispec

IMAGE = {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Entrypoint": None, "WorkingDir": "/w"}


def test_user_cmd_replaces_image_cmd() -> None:
    cfg = ocispec.merge_config({"Cmd": ["echo", "hi"]}, IMAGE)
    assert ocispec.command_line(cfg) == ["echo", "hi"]
    assert cfg["WorkingDir"] == "/w"


def test_image_cmd_used_when_none_given() -> None:
    assert ocispec.command_line(ocispec.merge_config({}, IMAGE)) == ["sh"]


def test_user_entrypoint_drops_image_cmd() -> None:
    cfg = ocispec.merge_config({"Entrypoint": ["echo"]}, IMAGE)
    assert ocispec.command_line(cfg) == ["echo"]


def test_image_entrypoint_with_user_cmd() -> None:
    cfg = ocispec.merge_config({"Cmd": ["-c", "x"]}, {**IMAGE, "Entrypoint": ["sh"]})
    assert ocispec.command_line(cfg) == ["sh", "-c", "x"]


def test_empty_entrypoint_resets() -> None:
    cfg = ocispec.merge_config({"Entrypoint": [""], "Cmd": ["ls"]}, {**IMAGE, "Entrypoint": ["x"]})
    assert ocispec.command_line(cfg) == ["ls"]


def test_no_command() -> None:
    with pytest.raises(InvalidParameter, match="No command specified"):
        ocispec.command_line(ocispec.merge_config({}, {}))


def test_env_merge_overrides_by_key() -> None:
    # moby's merge: the user's list as given, then the image's variables it lacks
    cfg = ocispec.merge_config({"Env": ["A=2", "B=3"]}, IMAGE)
    assert cfg["Env"] == ["A=2", "B=3", "PATH=/bin"]  # (the image's A=1 is overridden)
    assert ocispec.merge_config({"Env": ["PATH=/x"]}, IMAGE)["Env"] == ["PATH=/x", "A=1"]
    assert ocispec.merge_config({}, IMAGE)["Env"] == ["PATH=/bin", "A=1"]
    env = ocispec.process_env(cfg, "h", tty=True)
    assert sorted(env) == sorted(["PATH=/bin", "HOSTNAME=h", "TERM=xterm", "A=2", "B=3"])


PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nbob:x:1000:1000::/home/bob:/bin/sh\n"
GROUP = "root:x:0:\nwheel:x:10:root,bob\nstaff:x:50:bob\nbob:x:1000:\n"


@pytest.mark.parametrize(
    "spec, uid, gid, extra",
    [
        ("", 0, 0, [10]),
        ("root", 0, 0, [10]),
        ("nobody", 65534, 65534, []),
        ("bob", 1000, 1000, [10, 50]),
        ("bob:staff", 1000, 50, [10]),
        ("1234", 1234, 0, []),
        ("1000:7", 1000, 7, [10, 50]),
    ],
)
def test_resolve_user(spec: str, uid: int, gid: int, extra: list[int]) -> None:
    u = ocispec.resolve_user(spec, PASSWD, GROUP)
    assert (u.uid, u.gid, u.additional_gids) == (uid, gid, extra)


def test_unknown_user_message() -> None:
    with pytest.raises(InvalidParameter, match="unable to find user nosuch: no matching entries"):
        ocispec.resolve_user("nosuch", PASSWD, GROUP)


KNOWN = ("CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", *ocispec.DEFAULT_CAPS[1:])


def test_capabilities_default_add_drop() -> None:
    assert ocispec.capabilities(False, [], [], KNOWN) == ocispec.DEFAULT_CAPS
    caps = ocispec.capabilities(False, ["NET_ADMIN"], ["chown"], KNOWN)
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps
    assert ocispec.capabilities(False, [], ["ALL"], KNOWN) == []
    assert ocispec.capabilities(True, [], [], KNOWN) == list(KNOWN)
    assert ocispec.capabilities(False, ["ALL"], ["CHOWN"], KNOWN) == list(KNOWN[1:])
    with pytest.raises(InvalidParameter, match="unknown capability: 'CAP_NOPE'"):
        ocispec.capabilities(False, ["NOPE"], [], KNOWN)
    with pytest.raises(InvalidParameter, match="unknown capability: 'CAP_SYS_ADMIN'"):
        ocispec.capabilities(False, ["SYS_ADMIN"], [], KNOWN[:1])  # not in the bounding set
