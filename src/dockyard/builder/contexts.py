"""Persistent build contexts for `dockyard build`: the daemon keeps the last
context a client sent under a key (the client's hash of its context path),
with a manifest of (type, mode, size, mtime_ns, link target) per path and the
sha256 of each file. The client first sends its manifest (stat only, no
reads) and gets back the paths whose entries differ; the build request then
carries only those files, and the daemon drops paths the manifest no longer
lists. An unchanged 50 MB context costs a few stats instead of a transfer,
an unpack and a hash pass (BuildKit's incremental context transfer, without
its gRPC session)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
from typing import Any

from dockyard.builder.context import TarContext, member_path

_KEY = re.compile(r"^[0-9a-f]{64}$")
# The name a Dockerfile from outside the context (or excluded by .dockerignore)
# travels under; it is read, never copied (the CLI's STDIN_DOCKERFILE).
PRIVATE_DOCKERFILE = ".dockyard-stdin-Dockerfile"
Manifest = dict[str, list[Any]]  # path -> [type "f"|"d"|"l", mode, size, mtime_ns, link]


class ContextStore:
    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, exist_ok=True)

    def check_key(self, key: str) -> str:
        if not _KEY.match(key):
            raise ValueError(f"invalid context key {key!r}")
        return key

    @staticmethod
    def check_manifest(manifest: Manifest) -> None:
        if not isinstance(manifest, dict):
            raise ValueError("invalid context manifest")
        for path, entry in manifest.items():
            if not path or member_path(path) != path:
                raise ValueError(f"invalid path in the context manifest: {path!r}")
            if not isinstance(entry, list) or len(entry) < 5 or entry[0] not in ("f", "d", "l"):
                raise ValueError(f"invalid context manifest entry for {path!r}")

    def tree(self, key: str) -> str:
        return os.path.join(self.root, self.check_key(key), "tree")

    def dockerfile(self, key: str) -> str:
        """Where a build's private Dockerfile is kept, outside the tree."""
        return os.path.join(self.root, self.check_key(key), "Dockerfile")

    def _meta_path(self, key: str) -> str:
        return os.path.join(self.root, self.check_key(key), "meta.json")

    def _meta(self, key: str) -> dict[str, Any]:
        try:
            with open(self._meta_path(key)) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def need(self, key: str, manifest: Manifest) -> list[str]:
        """Regular files of `manifest` the stored context lacks or has differently."""
        meta = self._meta(key)
        tree = self.tree(key)
        out = []
        for path, entry in manifest.items():
            if entry[0] != "f":
                continue
            old = meta.get(path)
            if (
                path == PRIVATE_DOCKERFILE
                or old is None
                or old[:5] != entry[:5]
                or not os.path.isfile(os.path.join(tree, path))
            ):
                out.append(path)
        return out

    def spool(self, key: str) -> str:
        """Where the body of a build with this context is received (made ready)."""
        d = os.path.join(self.root, self.check_key(key))
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, "incoming.tar")

    def apply(
        self, key: str, manifest: Manifest, hashed: dict[tuple[int, int], str] | None = None
    ) -> tuple[str, dict[str, str]]:
        """Drop what the manifest no longer has, unpack the changed files from
        the spool; returns (tree, sha256 by host path of every regular file)."""
        tree = self.tree(key)
        os.makedirs(tree, exist_ok=True)
        meta = self._meta(key)
        spool = os.path.join(self.root, key, "incoming.tar")
        try:
            sent = TarContext.open(tree, spool, hashed)
            try:
                self._prune(tree, manifest)
                sent.unpack()
                fresh = {path: sent.sha256(path) for path in sent.files()}
                with contextlib.suppress(FileNotFoundError):
                    os.replace(os.path.join(tree, PRIVATE_DOCKERFILE), self.dockerfile(key))
            finally:
                sent.close()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool)
        digests: dict[str, str] = {}
        new_meta: dict[str, Any] = {}
        for path, entry in manifest.items():
            if entry[0] != "f":
                continue
            host = os.path.normpath(os.path.join(tree, path))
            digest = fresh.get(host)
            if digest is None:
                old = meta.get(path)
                if old is None or len(old) < 6:
                    continue  # not sent and not known: left to be hashed when read
                digest = old[5]
            digests[host] = digest
            new_meta[path] = [*entry[:5], digest]
        tmp = self._meta_path(key) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(new_meta, f)
        os.rename(tmp, self._meta_path(key))
        return tree, digests

    def _prune(self, tree: str, manifest: Manifest) -> None:
        def walk(rel: str) -> None:
            d = os.path.join(tree, rel) if rel else tree
            for name in os.listdir(d):
                r = f"{rel}/{name}" if rel else name
                p = os.path.join(tree, r)
                entry = manifest.get(r)
                st = os.lstat(p)
                kind = "d" if stat.S_ISDIR(st.st_mode) else "l" if stat.S_ISLNK(st.st_mode) else "f"
                if entry is None or entry[0] != kind:
                    if kind == "d":
                        shutil.rmtree(p)
                    else:
                        os.unlink(p)
                elif kind == "d":
                    walk(r)

        walk("")
