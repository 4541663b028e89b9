"""Which image each line of `docker history` names, as dockerd's ImageHistory:
the newest line is the image, each older one its parent, and so on while the
parent chain is known here (a local build or commit records each step's image
as the next one's parent); past that, `<missing>`. Each named line carries that
image's tags. Pulled and loaded images have no parent, so only their top line
is named, as under dockerd."""

from __future__ import annotations

from typing import Any

from dockyard.api.errors import NotFound
from dockyard.store.images import Image, ImageStore


def name_lines(lines: list[dict[str, Any]], image: Image, store: ImageStore) -> None:
    """Fill `Id` and `Tags` of `lines` (newest first) from `image` down its parents."""
    img: Image | None = image
    for line in lines:
        if img is None:
            break
        line["Id"] = img.id
        line["Tags"] = list(img.repo_tags) or None
        if not img.parent:
            break
        try:
            img = store.get(img.parent)
        except NotFound:
            img = None
