"""A bounded load generator for routing-mesh tests: one HTTP GET (a fresh connection)
to each target in turn, at most `rate` per second, until the stop file appears or the
time limit passes; prints {"ok", "failed", "failures": [[seconds since start, target,
error]]} as JSON. Run it inside a test host's namespace:

    ip netns exec NS python -m tests.integration.swarm.loadgen STOPFILE LIMIT RATE TIMEOUT URL...
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request


def main(argv: list[str]) -> int:
    stop, limit, rate, timeout = argv[0], float(argv[1]), float(argv[2]), float(argv[3])
    urls = argv[4:]
    ok, failures = 0, []
    start = time.monotonic()
    i = 0
    while not os.path.exists(stop) and time.monotonic() - start < limit:
        url = urls[i % len(urls)]
        i += 1
        began = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                r.read()
            ok += 1
        except OSError as exc:
            failures.append([round(began - start, 3), url, str(exc)])
        time.sleep(max(0.0, 1 / rate - (time.monotonic() - began)))
    print(json.dumps({"ok": ok, "failed": len(failures), "failures": failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
