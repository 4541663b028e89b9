"""Formatting must match the docker CLI byte for byte (go-units, strconv.Quote, tabwriter)."""

from __future__ import annotations

import pytest

from dockyard.cli.format import (
    display_ports,
    ellipsis,
    go_quote,
    human_duration,
    human_size,
    json_message_line,
    short_id,
    split_reference,
    tabwrite,
    with_default_tag,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "Less than a second"),
        (1, "1 second"),
        (2, "2 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (3599, "59 minutes"),
        (3600, "About an hour"),
        (5399, "About an hour"),
        (5400, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (14 * 86400, "2 weeks"),
        (60 * 86400, "2 months"),
        (2 * 365 * 86400, "2 years"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (1984512, "1.98MB"),
        (4260000, "4.26MB"),
        (999.9, "1e+03B"),
        (123456789, "123MB"),
        (10**12, "1TB"),
    ],
)
def test_human_size(size: float, text: str) -> None:
    assert human_size(size) == text


def test_go_quote_keeps_printable_unicode_and_escapes_controls() -> None:
    assert go_quote("echo hi") == '"echo hi"'
    assert go_quote("sh -c 'echo $FOO $(…") == '"sh -c \'echo $FOO $(…"'
    assert go_quote('a"b\\c\n\x01') == '"a\\"b\\\\c\\n\\x01"'


def test_ellipsis_like_docker() -> None:
    assert ellipsis("sh -c 'echo $FOO $(pwd)'", 20) == "sh -c 'echo $FOO $(…"
    assert ellipsis("short", 20) == "short"
    assert ellipsis("abc", 1) == "a"


def test_short_id() -> None:
    assert short_id("sha256:7feabd28e009170e3c71da943ab86d7fb17da6807cc5") == "7feabd28e009"
    assert short_id("52fc483cdc547f4b03181659d7760f89") == "52fc483cdc54"


def test_tabwrite_pads_to_minwidth_10_and_padding_3() -> None:
    text = "CONTAINER ID\tIMAGE\tNAMES\n52fc483cdc54\tbusybox\tt1"
    assert tabwrite(text).split("\n") == [
        "CONTAINER ID   IMAGE     NAMES",
        "52fc483cdc54   busybox   t1",
    ]


def test_tabwrite_empty_cells_take_the_minimum_width() -> None:
    assert tabwrite("PORTS\tNAMES\n\tt1") == "PORTS     NAMES\n          t1"


def test_tabwrite_blocks_align_only_consecutive_lines() -> None:
    assert tabwrite("a\tb\nno tabs here at all\nlongercell\tc") == (
        "a         b\nno tabs here at all\nlongercell   c"
    )


@pytest.mark.parametrize(
    ("ref", "split"),
    [
        ("busybox", ("busybox", "")),
        ("busybox:1.36", ("busybox", "1.36")),
        ("localhost:5000/x", ("localhost:5000/x", "")),
        ("localhost:5000/x:v1", ("localhost:5000/x", "v1")),
        ("x@sha256:abc", ("x@sha256:abc", "")),
    ],
)
def test_split_reference(ref: str, split: tuple[str, str]) -> None:
    assert split_reference(ref) == split


def test_with_default_tag() -> None:
    assert with_default_tag("busybox") == "busybox:latest"
    assert with_default_tag("busybox:1") == "busybox:1"
    assert with_default_tag("localhost:5000/busybox") == "localhost:5000/busybox:latest"


def test_json_message_lines_off_a_terminal() -> None:
    assert json_message_line({"status": "sha256:abc"}) == "sha256:abc\n"
    assert json_message_line({"status": "Pulling fs layer", "id": "a1"}) == "a1: Pulling fs layer\n"
    assert (
        json_message_line(
            {"status": "Downloading", "id": "a1", "progressDetail": {"current": 1, "total": 9}}
        )
        is None
    )
    assert json_message_line({"stream": "Step 1/2\n"}) == "Step 1/2\n"


def test_display_ports() -> None:
    ports = [
        {"PrivatePort": 443, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
    ]
    assert display_ports(ports) == "443/tcp, 0.0.0.0:8080->80/tcp"
    assert display_ports([]) == ""
