"""`--cache-from` as dockerd's legacy builder applies it (daemon/images/cache.go,
imageCache): once a build names cache-from images, the local build cache counts
only where its hit is an ancestor of one of them (so a CI job that names the
image it pulled is not served whatever this daemon built last); otherwise a
source whose history goes on with this step gives the step, and the first step
no source gives ends the use of sources for the rest of the build.

Kept out of builder.py, which asks `local_ok` and `match` at each cached step.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from dockyard.proto.image import image_config
from dockyard.store.images import Image


class CacheFrom:
    def __init__(
        self,
        sources: list[Image],
        parent_of: Callable[[str], str],
        store_image: Callable[[dict[str, Any], str], str],
    ) -> None:
        self.sources = sources
        self._parent_of = parent_of  # an image id's parent id ("" when none or unknown)
        self._store_image = store_image

    def local_ok(self, hit: str) -> bool:
        """Whether a local cache hit may be used: it is a strict ancestor of a source
        (dockerd's isParent walks each source's parents, not the source itself)."""
        for src in self.sources:
            seen = set()
            p = self._parent_of(src.id)
            while p and p not in seen:
                if p == hit:
                    return True
                seen.add(p)
                p = self._parent_of(p)
        return False

    def match(self, config: dict[str, Any], image_id: str, created_by: str,
              result: dict[str, Any]) -> str | None:  # fmt: skip
        """The step from a source: one whose history and layers start like the parent's
        (`config`, `image_id`) and whose next history entry is this step. The step's
        image is stored (or the source itself, when that entry is its last)."""
        parent_hist = [(h.get("created_by", ""), bool(h.get("empty_layer")))
                       for h in config.get("history") or []]  # fmt: skip
        parent_diffs = list((config.get("rootfs") or {}).get("diff_ids") or [])
        n = len(parent_hist)
        for src in self.sources:
            hist = src.config.get("history") or []
            diffs = src.diff_ids
            if len(hist) <= n or diffs[: len(parent_diffs)] != parent_diffs:
                continue
            if [(h.get("created_by", ""), bool(h.get("empty_layer"))) for h in hist[:n]] != (
                parent_hist
            ):
                continue
            step = hist[n]
            if step.get("created_by", "") != created_by:
                continue
            if len(hist) == n + 1:
                return src.id
            diff_id = None if step.get("empty_layer") else diffs[len(parent_diffs)]
            cc = copy.deepcopy(result)
            cc["Image"] = image_id
            cfg = image_config(config, cc, created_by, diff_id, created=step.get("created"),
                               author=step.get("author", ""))  # fmt: skip
            self.sources = [src]  # as dockerd: stay on one source once it matched
            return self._store_image(cfg, image_id)
        self.sources = []  # as dockerd: a step no source gives ends their use
        return None
