from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.registry.peers import Registry, start, stop


@pytest.fixture(scope="module", params=["dockyard", "distribution"])
def registry(request: pytest.FixtureRequest) -> Iterator[Registry]:
    reg = start(request.param)
    try:
        yield reg
    finally:
        stop(reg)


@pytest.fixture(scope="module")
def ours() -> Iterator[Registry]:
    reg = start("dockyard")
    try:
        yield reg
    finally:
        stop(reg)
