from __future__ import annotations

import json

import pytest

from dockyard.mountflags import (
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    parse_options,
)
from dockyard.runtime import jsontext
from dockyard.runtime.signals import parse_signal, signal_name
from dockyard.runtime.spec import (
    SpecError,
    default_spec,
    parse_spec,
    validate_container_id,
)


def test_default_spec_is_valid_and_like_runc():
    spec = parse_spec(default_spec(), "/bundle")
    assert spec.root_path == "/bundle/rootfs" and spec.root_readonly
    assert spec.process.args == ["sh"] and spec.process.no_new_privileges
    assert [ns.type for ns in spec.namespaces] == ["pid", "network", "ipc", "uts", "mount"]
    assert spec.hostname == "runc"
    assert spec.process.rlimits[0].resource == 7 and spec.process.rlimits[0].soft == 1024


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.pop("process"), "process property must not be empty"),
        (lambda c: c["process"].update(args=[]), "args must not be empty"),
        (lambda c: c["process"].update(cwd="rel"), "absolute path"),
        (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}), "does not exist"),
        (lambda c: c["linux"]["namespaces"].append({"type": "pid"}), "duplicated"),
        (lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_X"}), "wrong rlimit"),
        (lambda c: c["root"].pop("path"), "root.path"),
        (lambda c: c["process"]["user"].update(uid="0"), "integer"),
    ],
)
def test_invalid_specs(edit, message):
    raw = default_spec()
    edit(raw)
    with pytest.raises(SpecError, match=message):
        parse_spec(raw, "/b")


def test_mount_options():
    flags, propagation, data = parse_options(
        ["rbind", "ro", "nosuid", "nodev", "rw", "rprivate", "mode=755", "size=1k"]
    )
    assert flags == MS_BIND | MS_REC | MS_NOSUID | MS_NODEV
    assert not flags & MS_RDONLY
    assert propagation == [MS_PRIVATE | MS_REC]
    assert data == "mode=755,size=1k"


@pytest.mark.parametrize("good", ["a", "abc-123_x.y+z", "A" * 100])
def test_container_id_ok(good):
    assert validate_container_id(good) == good


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a b", "x;y", "é"])
def test_container_id_rejected(bad):
    with pytest.raises(SpecError):
        validate_container_id(bad)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("KILL", 9),
        ("SIGKILL", 9),
        ("kill", 9),
        ("9", 9),
        ("TERM", 15),
        ("SIGUSR1", 10),
        ("RTMIN", 34),
        ("RTMIN+3", 37),
        ("SIGRTMAX-1", 63),
        ("WINCH", 28),
    ],
)
def test_parse_signal(text, number):
    assert parse_signal(text) == number


@pytest.mark.parametrize("bad", ["0", "65", "NOPE", "RTMIN+40", "RTMAX+1", "-9", ""])
def test_parse_signal_rejects(bad):
    with pytest.raises(ValueError):
        parse_signal(bad)


def test_signal_name():
    assert signal_name(15) == "SIGTERM" and signal_name(36) == "SIGRTMIN+2"


@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2.5, 'é"\n', True, None, {}], "b": {"c": []}, "d": -3}, [], "x", 0, None],
)
def test_jsontext_matches_json(value):
    assert jsontext.dumps(value, indent=2) == json.dumps(value, indent=2, ensure_ascii=False)
    assert jsontext.dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert jsontext.loads(" " + json.dumps(value) + "\n") == value


@pytest.mark.parametrize("bad", ["", "{", "[1,]", "1 2", "nul"])
def test_jsontext_rejects(bad):
    with pytest.raises(jsontext.JSONError):
        jsontext.loads(bad)
