"""The served Engine API surface, against the reference operation list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.daemon.coverage import DEFAULT_OPS, all_route_tables, missing
from dockyard.daemon.server.app import make_app

REQUIRED = {
    "ContainerList", "ContainerCreate", "ContainerInspect", "ContainerStart", "ContainerStop",
    "ContainerKill", "ContainerWait", "ContainerDelete", "ContainerAttach", "ContainerLogs",
    "ContainerUpdate", "ContainerPrune", "ContainerRestart", "ImageList", "ImageCreate",
    "ImageInspect", "ImageDelete", "ImageTag", "SystemPing", "SystemVersion", "SystemInfo",
    "SystemEvents", "SwarmInspect", "PluginList",
}  # fmt: skip


@pytest.fixture(scope="module")
def ops() -> list[dict[str, str]]:
    if not DEFAULT_OPS.exists():
        pytest.skip(f"no reference list at {DEFAULT_OPS}")
    return json.loads(Path(DEFAULT_OPS).read_text())["operations"]


def test_required_operations_are_served(ops: list[dict[str, str]]) -> None:
    gone = {op["operationId"] for op in missing(make_app(all_route_tables()), ops)}
    assert not REQUIRED & gone, sorted(REQUIRED & gone)


def test_most_of_the_surface_is_served(ops: list[dict[str, str]]) -> None:
    gone = missing(make_app(all_route_tables()), ops)
    assert len(ops) - len(gone) >= 90, [op["operationId"] for op in gone]
