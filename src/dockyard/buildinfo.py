"""Which build of Dockyard is running: the git commit and build time that
`/version` (GitCommit, BuildTime) and `/info` (ContainerdCommit, RuncCommit,
InitCommit: the monitor, runtime and init are ours) report, as dockerd's are
stamped in at link time.

The source tree is asked once per process (`git log -1`, bounded by a timeout);
an install without a git checkout reports "unknown" and the package's install
time, rather than the empty strings clients print as blanks.
"""

from __future__ import annotations

import functools
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BuildInfo:
    git_commit: str
    build_time: str


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000+00:00", time.gmtime(t))


@functools.cache
def build_info() -> BuildInfo:
    try:
        out = subprocess.run(
            ["git", "-c", "safe.directory=*", "-C", str(_PACKAGE), "log", "-1",
             "--format=%h %ct"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.split()  # fmt: skip
        commit, when = out[0], float(out[1])
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        commit, when = "unknown", os.stat(_PACKAGE / "__init__.py").st_mtime
    return BuildInfo(git_commit=commit, build_time=_rfc3339(when))
