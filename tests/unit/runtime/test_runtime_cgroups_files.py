"""The cgroup files read and picked by name: oom_kills() (the memory cgroup's OOM-kill
counter, v1 and v2) and the block I/O weight file."""

from __future__ import annotations

from pathlib import Path

from dockyard.runtime.cgroups import CgroupV1, CgroupV2, blkio_weight_file


def test_v1_reads_memory_oom_control(tmp_path: Path) -> None:
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert CgroupV1({"memory": str(tmp_path)}).oom_kills() == 2
    assert CgroupV1({"pids": str(tmp_path)}).oom_kills() == 0  # no memory controller


def test_v2_reads_memory_events(tmp_path: Path) -> None:
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n")
    assert CgroupV2(str(tmp_path)).oom_kills() == 1
    assert CgroupV2(str(tmp_path / "gone")).oom_kills() == 0


def test_blkio_weight_file_prefers_cfq_then_bfq(tmp_path: Path) -> None:
    assert blkio_weight_file(str(tmp_path)) is None
    (tmp_path / "blkio.bfq.weight").write_text("100\n")
    assert blkio_weight_file(str(tmp_path)) == "blkio.bfq.weight"
    (tmp_path / "blkio.weight").write_text("500\n")
    assert blkio_weight_file(str(tmp_path)) == "blkio.weight"
