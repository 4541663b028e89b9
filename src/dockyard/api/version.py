"""API versions the daemon speaks, and how a request's version is chosen."""

from __future__ import annotations

API_VERSION = "1.45"
MIN_API_VERSION = "1.24"


def parse(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def less_than(a: str, b: str) -> bool:
    return parse(a) < parse(b)
