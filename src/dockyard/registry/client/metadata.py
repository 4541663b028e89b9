"""What the daemon knows about where its layers live in registries (dockerd's
v2 metadata service, small): diff id -> compressed blobs seen in pulls and
pushes, with the registry host and repository. Push uses it to skip
recompressing, to HEAD the right digest, and to cross-mount from a sibling
repository. One JSON file, rewritten atomically; the daemon is one process.

`UploadSessions` remembers the upload URL of each blob being pushed, so that
a push cut short (even by a daemon crash) resumes the registry's upload
session from its offset instead of sending the blob again."""

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
        self.uploads = UploadSessions(os.path.join(os.path.dirname(path), "uploads.json"))
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


class UploadSessions:
    """(host, repository, digest) -> the upload URL last answered for it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            with open(path) as f:
                self._urls: dict[str, str] = dict(json.load(f))
        except (FileNotFoundError, ValueError, TypeError):
            self._urls = {}

    @staticmethod
    def _key(host: str, repo: str, digest: str) -> str:
        return f"{host}/{repo}@{digest}"

    def get(self, host: str, repo: str, digest: str) -> str | None:
        with self._lock:
            return self._urls.get(self._key(host, repo, digest))

    def set(self, host: str, repo: str, digest: str, url: str | None) -> None:
        """Remember `url` (None: forget the session, it is done or gone)."""
        key = self._key(host, repo, digest)
        with self._lock:
            if self._urls.get(key) == url:
                return
            if url is None:
                self._urls.pop(key, None)
            else:
                self._urls[key] = url
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            write_json_atomic(self.path, self._urls)
