"""`--userns-remap default` on a host without the `dockremap` user: made as
dockerd makes it (a system user and group, no home, no login shell), with
subordinate uid and gid ranges of 65536 placed after every range already in
/etc/subuid and /etc/subgid (from 100000), so the remap has something to map to.
The daemon's start-up is the only caller; `useradd` (shadow's) does the user, the
range lines are appended here (usermod -v needs a libsubid build).
"""

from __future__ import annotations

import os
import pwd
import subprocess

USER = "dockremap"
_FIRST, _SIZE = 100000, 65536


def _ranges(path: str) -> list[tuple[str, int, int]]:
    try:
        with open(path) as f:
            lines = [ln.strip().split(":") for ln in f]
    except FileNotFoundError:
        return []
    return [(p[0], int(p[1]), int(p[2])) for p in lines if len(p) == 3 and p[1].isdigit()
            and p[2].isdigit()]  # fmt: skip


def ensure(subuid: str = "/etc/subuid", subgid: str = "/etc/subgid") -> None:
    try:
        pwd.getpwnam(USER)
    except KeyError:
        r = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                            "--shell", "/bin/false", USER],
                           capture_output=True, text=True)  # fmt: skip
        if r.returncode != 0:
            raise SystemExit(
                f"dockyardd: could not create the {USER} user: {r.stderr.strip()}"
            ) from None
    uid = str(pwd.getpwnam(USER).pw_uid)
    have = [path for path in (subuid, subgid)
            if any(n in (USER, uid) for n, _, _ in _ranges(path))]  # fmt: skip
    if len(have) == 2:
        return
    used = _ranges(subuid) + _ranges(subgid)
    start = max([_FIRST, *(s + n for _, s, n in used)])
    for path in (subuid, subgid):
        if path not in have:
            with open(path, "a") as f:
                f.write(f"{USER}:{start}:{_SIZE}\n")
            os.chmod(path, 0o644)
