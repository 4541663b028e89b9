"""What the daemon knows about where its layers live in registries (dockerd's
v2 metadata service, small): diff id -> compressed blobs seen in pulls and
pushes, with the registry host and repository. Push uses it to skip
recompressing, to HEAD the right digest, and to cross-mount from a sibling
repository. One JSON file, rewritten atomically; the daemon is one process."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass

from dockyard.fsutil import write_json_atomic


@dataclass(frozen=True, slots=True)
class BlobSource:
    digest: str
    size: int
    media_type: str
    host: str
    repo: str


class DistributionMetadata:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._by_diff: dict[str, list[BlobSource]] = {}
        try:
            with open(path) as f:
                raw = json.load(f)
            for k, v in raw.items():
                self._by_diff[k] = [BlobSource(**e) for e in v]
        except (FileNotFoundError, ValueError, TypeError):
            pass

    def sources(self, diff_id: str) -> list[BlobSource]:
        with self._lock:
            return list(self._by_diff.get(diff_id, []))

    def add(self, diff_id: str, src: BlobSource) -> None:
        with self._lock:
            current = self._by_diff.get(diff_id, [])
            if current and current[0] == src:
                return  # nothing new (a re-push): no write, no fsync
            entries = [
                e for e in current if (e.digest, e.host, e.repo) != (src.digest, src.host, src.repo)
            ]
            entries.insert(0, src)
            self._by_diff[diff_id] = entries[:16]
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            write_json_atomic(
                self.path, {k: [asdict(e) for e in v] for k, v in self._by_diff.items()}
            )
