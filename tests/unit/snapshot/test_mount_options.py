"""A snapshot's or a local volume's mount options are read with the runtime's table
(`dockyard.mountflags`, runc's names): flags such as `async` or `defaults` are flags,
not file-system data, and a propagation option is applied after the mount, as moby's
mount.Mount does for a local volume's `o=`."""

from __future__ import annotations

from pathlib import Path

from dockyard.mountflags import MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, parse_options
from dockyard.snapshot.mount import Mount, mount, unmount


def test_options_split_into_flags_propagation_and_data() -> None:
    flags, propagation, data = parse_options(
        ("ro", "nosuid", "defaults", "lowerdir=/a:/b", "rprivate", "index=off")
    )
    assert flags == MS_RDONLY | MS_NOSUID
    assert propagation == [MS_PRIVATE | MS_REC]
    assert data == "lowerdir=/a:/b,index=off"


def _optional_fields(target: Path) -> list[str]:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split(" - ")[0].split()
        if fields[4] == str(target):
            return fields[6:]
    raise AssertionError(f"{target} is not mounted")


def test_flag_names_and_propagation_reach_the_kernel(tmp_path: Path) -> None:
    target = tmp_path / "mnt"
    target.mkdir()
    mount(Mount("tmpfs", "tmpfs", ("size=1m", "async", "defaults", "rshared")), str(target))
    try:
        assert any(f.startswith("shared:") for f in _optional_fields(target))
    finally:
        unmount(str(target))
