"""Decode cost of a container create body: today's json.loads (no type check) against
the typed decode (msgspec parse + the Go-rules walk of api/models), per body.
The body is what docker CLI 28 sends for
`docker create -e A=1 -e B=2 -l a=b -p 8080:80 -v /tmp:/x --memory 64m --restart on-failure:3 busybox sh -c 'echo hi'`.
Usage: .venv/bin/python bench/request_decode.py [rounds]"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import msgspec

from dockyard.api.models import decode
from dockyard.api.models.container import ContainerCreate

BODY = (Path(__file__).parent / "create_body.json").read_bytes()


def per_call(fn: object, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        t = time.process_time()
        for _ in range(n):
            fn(BODY)  # type: ignore[operator]
        best = min(best, (time.process_time() - t) / n)
    return best * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rows = [
        ("json.loads (before: parse only)", per_call(json.loads, n)),
        ("msgspec.json.decode (parse only)", per_call(msgspec.json.decode, n)),
        ("decode(body, ContainerCreate) (parse + Go-rules type check)",
         per_call(lambda b: decode(b, ContainerCreate), n)),
    ]  # fmt: skip
    print(f"create body: {len(BODY)} bytes, CPU time, best of 5 x {n}")
    for name, us in rows:
        print(f"  {name:62s} {us:7.1f} us")


if __name__ == "__main__":
    main()
