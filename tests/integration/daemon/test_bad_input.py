"""Bad input gets a JSON error, 4xx when the client is at fault, never aiohttp's
plain-text 500 (issue 11 item 5): deep nesting, invalid UTF-8, huge numbers,
malformed JSON, in bodies and in JSON query parameters."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from tests.integration.daemon.rawapi import error_message, request

V = "/v1.45"
DEEP = b"[" * 100_000 + b"]" * 100_000
BIG = b"9" * 5000


def _containers(daemon: Any) -> set[str]:
    return {
        c["Id"] for c in json.loads(request(daemon.sock, "GET", f"{V}/containers/json?all=1")[2])
    }


def test_probes_answer_json_4xx(daemon: Any) -> None:
    before = _containers(daemon)
    probes: dict[str, tuple[str, str, bytes]] = {
        "deep body": ("POST", "/containers/create", b'{"Image":"busybox","Labels":' + DEEP + b"}"),
        "deep unknown field": (
            "POST",
            "/containers/create",
            b'{"Image":"busybox","X":' + DEEP + b"}",
        ),
        "deep network": (
            "POST",
            "/networks/create",
            b'{"Name":"models-deep","Options":' + DEEP + b"}",
        ),
        "deep volume": ("POST", "/volumes/create", DEEP),
        "big number": (
            "POST",
            "/containers/create",
            b'{"Image":"busybox","HostConfig":{"Memory":' + BIG + b"}}",
        ),
        "big number in a string field": ("POST", "/containers/create", b'{"Image":' + BIG + b"}"),
        "big number in a list": (
            "POST",
            "/containers/create",
            b'{"Image":"busybox","Cmd":[' + BIG + b"]}",
        ),
        "big top level": ("POST", "/containers/create", BIG),
        "invalid UTF-8 outside a string": (
            "POST",
            "/containers/create",
            b'{"Image":"busybox",\xff}',
        ),
        "truncated": ("POST", "/containers/create", b'{"Image":"busy'),
        "trailing comma": ("POST", "/networks/create", b'{"Name":"models-x",}'),
        "not an object": ("POST", "/volumes/create", b"[1]"),
        "deep filters": (
            "GET",
            "/containers/json?all=1&filters=" + quote(DEEP[:20000] + DEEP[-20000:]),
            b"",
        ),
        "big filters": ("GET", "/images/json?filters=" + quote(b'{"label":[' + BIG + b"]}"), b""),
        "deep build args": ("POST", "/build?buildargs=" + quote(DEEP[:20000] + DEEP[-20000:]), b""),
    }
    for name, (method, path, body) in probes.items():
        status, ctype, raw = request(daemon.sock, method, V + path, body or None)
        msg = error_message(status, ctype, raw)
        assert 400 <= status < 500, (name, status, msg[:200])
    assert _containers(daemon) == before


def test_go_leniency_is_kept(daemon: Any) -> None:
    """What Go's decoder accepts is accepted: invalid UTF-8 inside strings (as U+FFFD),
    huge numbers in fields nobody reads, anything after the first JSON value."""
    bodies = [
        b'{"Image":"busybox","Labels":{"models":"caf\xe9"}}',
        b'{"Image":"busybox","Labels":{"models":"x"},"Unknown":' + BIG + b"}",
        b'{"Image":"busybox","Labels":{"models":"x"}} trailing',
        b'{"Image":"busybox","Labels":{"models":"\\ud800"}}',
    ]
    labels = []
    for i, body in enumerate(bodies):
        status, _, raw = request(
            daemon.sock, "POST", f"{V}/containers/create?name=models-len{i}", body
        )
        assert status == 201, (body[:80], raw)
        doc = json.loads(request(daemon.sock, "GET", f"{V}/containers/models-len{i}/json")[2])
        labels.append(doc["Config"]["Labels"]["models"])
        request(daemon.sock, "DELETE", f"{V}/containers/models-len{i}?force=1")
    assert labels == ["caf\ufffd", "x", "x", "\ufffd"]
    r = daemon.docker("ps", "-a")
    assert r.returncode == 0, r.stderr


def test_integer_query_parameters_in_dockerds_words(daemon: Any) -> None:
    cases = {
        "abc": 'strconv.Atoi: parsing "abc": invalid syntax',
        " 1": 'strconv.Atoi: parsing " 1": invalid syntax',
        "1_0": 'strconv.Atoi: parsing "1_0": invalid syntax',
        "9" * 5000: f'strconv.Atoi: parsing "{"9" * 5000}": value out of range',
    }
    for raw, want in cases.items():
        got = error_message(*request(daemon.sock, "GET", f"{V}/containers/json?limit={quote(raw)}"))
        assert got == want
    status, _, body = request(daemon.sock, "GET", f"{V}/containers/json?limit=%2B1")
    assert status == 200, body
