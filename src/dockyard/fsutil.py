"""Atomic file writes: temp file, fsync, rename. The one way records, exit
statuses and configs become visible, so a crash leaves the old file or the new
one, never half of either."""

from __future__ import annotations

import json
import os
from typing import Any


def write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def write_json_atomic(path: str, value: Any) -> None:
    write_atomic(path, json.dumps(value).encode())
