"""1000 clients connecting at once, each sending GET /_ping: how many are refused, how
many answered, and the wall time until the last answer, per engine, side by side.
Usage (sockets of running engines, e.g. a dockyardd and a peer dockerd on temp roots):
    .venv/bin/python bench/connections.py NAME=SOCKET [NAME=SOCKET ...] [--n 1000] [--rounds 3]
The burst itself is the load test's (tests/integration/daemon/test_connection_burst.py)."""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.daemon.test_connection_burst import burst  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("engines", nargs="+", help="NAME=SOCKET")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.n + 100)), hard))
    print(f"{args.n} connections at once, GET /_ping each; rounds interleaved")
    results: dict[str, list[tuple[int, int, int, float]]] = {}
    for _ in range(args.rounds):
        for spec in args.engines:
            name, sock = spec.split("=", 1)
            t = time.monotonic()
            refused, answered, failed = burst(sock, args.n)
            results.setdefault(name, []).append((refused, answered, failed, time.monotonic() - t))
    for name, rows in results.items():
        times = sorted(r[3] for r in rows)
        print(
            f"  {name:10s} refused {max(r[0] for r in rows):4d}  answered {min(r[1] for r in rows):4d}"
            f"  failed {max(r[2] for r in rows):4d}  wall median {times[len(times) // 2] * 1000:6.0f} ms"
        )


if __name__ == "__main__":
    main()
