"""What a runtime run by a monitor said: the error it logged (runc's JSON log or
plain text) or wrote on stderr, read without blocking the monitor host's loop."""

from __future__ import annotations

import json
import os


def runtime_error(log_path: str, stderr_text: str) -> str:
    """The last error the runtime logged (runc's JSON log or plain text), else its stderr."""
    msg = ""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                    if obj.get("level") in ("error", "fatal") and obj.get("msg"):
                        msg = obj["msg"]
                except (json.JSONDecodeError, AttributeError):
                    msg = line
    except OSError:
        pass
    return msg or stderr_text.strip() or "runtime failed"


def read_nonblocking(fd: int) -> str:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536).decode("utf-8", "replace")
    except (BlockingIOError, OSError):
        return ""
    finally:
        os.close(fd)
