"""proto.units: the one home of go-units sizes (parse and print)."""

from __future__ import annotations

import pytest

from dockyard.cli import lifecycle
from dockyard.cli.flags import parse
from dockyard.proto.units import bytes_size, human_size, mem_swap_bytes, ram_in_bytes


@pytest.mark.parametrize(
    ("text", "value"),
    [("512m", 512 << 20), ("1.5g", 3 << 29), ("10 KiB", 10240), ("7", 7), ("2b", 2),
     ("1kb", 1024), ("0.5", 0), ("1t", 1 << 40), ("1TiB", 1 << 40), ("2p", 2 << 50)],
)  # fmt: skip
def test_ram_in_bytes(text: str, value: int) -> None:
    assert ram_in_bytes(text) == value


@pytest.mark.parametrize(
    ("text", "error"),
    [("abc", "invalid size: 'abc'"), ("1x", "invalid suffix: 'x'"), ("-1", "invalid size: '-1'"),
     ("1kibb", "invalid suffix: 'kibb'"), ("1.2.3", 'strconv.ParseFloat: parsing "1.2.3": invalid syntax')],
)  # fmt: skip
def test_ram_in_bytes_errors(text: str, error: str) -> None:
    with pytest.raises(ValueError, match="^" + error.replace(".", r"\.") + "$"):
        ram_in_bytes(text)


def test_mem_swap_bytes_takes_unlimited() -> None:
    assert mem_swap_bytes("-1") == -1
    assert mem_swap_bytes("1g") == 1 << 30


def test_update_takes_the_sizes_run_takes() -> None:
    """`dockyard run --memory 1t` worked while `dockyard update --memory 1t` raised."""
    for text in ("1t", "10 KiB", "1.5g"):
        opts, _ = parse(lifecycle.UPDATE, ["--memory", text, "c1"])
        assert lifecycle.update_body(opts)["Memory"] == ram_in_bytes(text)


@pytest.mark.parametrize(
    ("size", "precision", "text"),
    [(0, 4, "0B"), (999, 4, "999B"), (1000, 4, "1kB"), (4_261_000, 3, "4.26MB"),
     (1_234_567, 4, "1.235MB"), (7.5e12, 4, "7.5TB"), (999_999, 3, "1e+03kB")],
)  # fmt: skip
def test_human_size(size: float, precision: int, text: str) -> None:
    assert human_size(size, precision) == text


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0B"), (1023, "1023B"), (327_680, "320KiB"), (8_327_000_000, "7.755GiB")]
)
def test_bytes_size(size: float, text: str) -> None:
    assert bytes_size(size) == text
