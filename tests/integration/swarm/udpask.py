"""A UDP client for routing-mesh tests: N datagrams to HOST:PORT, each from a fresh
socket (a new source port, so a new flow the mesh balances afresh), each waiting up
to TIMEOUT seconds for its answer; prints the answers as a JSON list ("" for none).
Run it inside a test host's namespace:

    ip netns exec NS python -m tests.integration.swarm.udpask HOST PORT N TIMEOUT
"""

from __future__ import annotations

import json
import socket
import sys


def ask(host: str, port: int, payload: bytes, timeout: float) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (host, port))
        try:
            data, _ = s.recvfrom(2048)
        except TimeoutError:
            return ""
        return data.decode(errors="replace")


def main(argv: list[str]) -> int:
    host, port, n, timeout = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    print(json.dumps([ask(host, port, f"q{i}".encode(), timeout) for i in range(n)]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
