"""`docker cp` sees a container's volumes (issue 12): GET, HEAD and PUT
/containers/{id}/archive under a volume path, before the first start and after
exit, reach the volume (dockerd mounts the container's volumes for the copy);
a read-only volume refuses a PUT. Each on dockyardd and the peer dockerd."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.conftest import Daemon


def test_cp_into_and_out_of_volumes_of_a_stopped_container(engine: Daemon, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    vol, ro_vol, name = f"fid-cpv-{tag}", f"fid-cpv-{tag}-ro", f"fid-cpv-{tag}-c"
    bind = tmp_path / "bind"
    bind.mkdir()
    (bind / "seen").write_text("from the bind\n")
    src = tmp_path / "in.txt"
    src.write_text("into the volume\n")
    engine.docker("create", "--name", name, "--network", "none", "-v", f"{vol}:/data",
                  "-v", f"{ro_vol}:/ro:ro", "-v", f"{bind}:/bound", "busybox", "sh", "-c",
                  "cat /data/in.txt > /data/out.txt && echo done >> /data/out.txt",
                  check=True)  # fmt: skip
    try:
        # before the first start: into the volume, and what a bind mount holds
        # (docker cp asks HEAD first, then PUT or GET)
        engine.docker("cp", str(src), f"{name}:/data/in.txt", check=True)
        got = engine.docker("cp", f"{name}:/bound/seen", "-", check=True).stdout
        assert "seen" in got and "from the bind" in got
        refused = engine.docker("cp", str(src), f"{name}:/ro/x.txt")
        assert refused.returncode != 0
        assert "marked read-only" in refused.stderr
        engine.docker("start", "-a", name, check=True)
        # after exit: what the container wrote in its volume
        out = engine.docker("cp", f"{name}:/data/out.txt", "-", check=True).stdout
        assert "into the volume\ndone\n" in out
        # the file went into the volume itself, not the container's layer
        seen = engine.docker("run", "--rm", "--network", "none", "-v", f"{vol}:/v", "busybox",
                             "cat", "/v/in.txt", check=True)  # fmt: skip
        assert seen.stdout == "into the volume\n"
    finally:
        engine.docker("rm", "-f", name)
        engine.docker("volume", "rm", vol, ro_vol)
