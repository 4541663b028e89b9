"""The CgroupManager contract, run against every implementation: v1 on this
machine's kernel (root, a uniquely named cgroup, removed afterwards) and v2
against a fake cgroupfs tree in a temp dir (regular files where the kernel has
control files; what only a kernel does, freezing and rmdir of a cgroup with
files, runs where a kernel is behind the tree)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockyard.runtime.cgroupmanager import CgroupManager
from dockyard.runtime.cgroups import CGROUP_ROOT, V1_CONTROLLERS, CgroupV1, CgroupV2


@dataclass
class Case:
    manager: CgroupManager
    name: str  # the cgroup's path inside its hierarchy
    kernel: bool  # a kernel answers behind the files


def _v1(name: str) -> Case:
    if os.geteuid() != 0:
        pytest.skip("needs root (cgroups)")
    if not os.path.isdir(os.path.join(CGROUP_ROOT, "memory")):
        pytest.skip("no cgroup v1 memory hierarchy here")
    own = {c: "/" for c in V1_CONTROLLERS}
    return Case(CgroupV1.resolve(name, own=own), name, kernel=True)


def _v2_fake(name: str, tmp_path: Path) -> Case:
    root = tmp_path / "cgroup2"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    return Case(CgroupV2.resolve(name, root=str(root), own={"": "/"}), name, kernel=False)


@pytest.fixture(params=["v1", "v2-fake"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    name = f"/dockyard-conformance-{uuid.uuid4().hex[:8]}"
    c = _v1(name) if request.param == "v1" else _v2_fake(name, tmp_path)
    try:
        yield c
    finally:
        if c.kernel:
            c.manager.destroy()


def test_create_writes_limits_that_stats_read_back(case: Case) -> None:
    m = case.manager
    m.create({"memory": {"limit": 64 << 20}, "pids": {"limit": 50}})
    assert all(os.path.isdir(p) for p in m.paths().values())
    stats = m.stats()
    assert stats["memory"]["limit"] == 64 << 20
    assert stats["pids"]["limit"] == 50
    m.set({"memory": {"limit": 32 << 20}, "pids": {"limit": 20}})
    assert m.stats()["memory"]["limit"] == 32 << 20
    assert m.stats()["pids"]["limit"] == 20
    assert m.oom_kills() == 0


def test_hierarchy_paths_name_the_cgroup(case: Case) -> None:
    hierarchy = case.manager.hierarchy_paths()
    assert hierarchy and all(p == case.name for p in hierarchy.values())
    assert case.manager.version in (1, 2)


def test_apply_moves_a_process_in(case: Case) -> None:
    m = case.manager
    m.create({})
    child = subprocess.Popen(["sleep", "60"])
    try:
        m.apply(child.pid)
        assert child.pid in m.pids()
        if case.kernel:
            m.freeze()
            m.thaw()
    finally:
        child.kill()
        child.wait()


def test_destroy_removes_every_cgroup(case: Case) -> None:
    if not case.kernel:
        pytest.skip("rmdir of a cgroup with control files needs the kernel")
    m = case.manager
    m.create({"pids": {"limit": 10}})
    m.destroy()
    assert not any(os.path.exists(p) for p in m.paths().values())
