"""Image commands: images, import, tag, rmi, history (image prune is prune.py's)."""

from __future__ import annotations

import sys

from dockyard.cli.filterflag import filter_flag
from dockyard.cli.flags import BOOL, CHANGE, FORMAT, NO_TRUNC, PLATFORM, STRING, Command, Flag
from dockyard.cli.format import human_size, json_message_line, short_id, since, split_reference
from dockyard.cli.main import Cli, command_table, handles
from dockyard.cli.template import Header, columns_json
from dockyard.client.errors import ClientError
from dockyard.client.http import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_QUIET_IDS = Flag("quiet", "q", BOOL, "Only show image IDs")  # images, history
IMAGES = Command(
    "images [OPTIONS] [REPOSITORY[:TAG]]",
    "List images",
    (
        Flag("all", "a", BOOL, "Show all images (default hides intermediate images)"),
        Flag("digests", "", BOOL, "Show digests"),
        filter_flag("Filter output based on conditions provided"),
        Flag("format", "", STRING, "Pretty-print images using a Go template", metavar="string"),
        NO_TRUNC,
        _QUIET_IDS,
    ),
    max_args=1,
    aliases=("image ls", "image list"),
)
IMAGES_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_TABLE_DIGESTS = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)
_IMAGE_HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "VirtualSize": "VIRTUAL SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}


def familiar_name(name: str) -> str:
    """`docker.io/library/busybox` -> `busybox`, as docker's reference.FamiliarName."""
    if name.startswith("docker.io/"):
        name = name[len("docker.io/") :]
        if name.startswith("library/") and name.count("/") == 1:
            name = name[len("library/") :]
    return name


class ImageRow:
    """One row of `images`: an image under one repository/tag/digest."""

    go_type = "*formatter.imageContext"

    def __init__(self, image: dict[str, Any], repo: str, tag: str, digest: str, trunc: bool):
        self.i, self.repo, self.tag, self.digest, self.trunc = image, repo, tag, digest, trunc

    def template_field(self, name: str) -> Any:
        image_id = self.i.get("Id", "")
        created = self.i.get("Created", 0)
        fields = {
            "ID": short_id(image_id) if self.trunc else image_id,
            "Repository": self.repo,
            "Tag": self.tag,
            "Digest": self.digest,
            "CreatedSince": since(created),
            "CreatedAt": _go_time(created),
            "Size": human_size(self.i.get("Size") or 0),
            "Containers": _na(self.i.get("Containers", -1)),
            "VirtualSize": human_size(self.i.get("VirtualSize") or self.i.get("Size") or 0),
            "SharedSize": _na(self.i.get("SharedSize", -1), human_size),
            "UniqueSize": _na(
                (self.i.get("Size") or 0) - self.i["SharedSize"]
                if self.i.get("SharedSize", -1) >= 0
                else -1,
                human_size,
            ),
        }
        return fields[name]

    def template_json(self) -> dict[str, Any]:
        return columns_json(self, _IMAGE_HEADERS)


def _na(value: int, fmt: Any = str) -> str:
    return "N/A" if value is None or value < 0 else fmt(value)


def _go_time(timestamp: float) -> str:
    from dockyard.cli.pscontext import go_time_string

    return go_time_string(timestamp)


def image_rows(images: list[dict[str, Any]], digests: bool, trunc: bool) -> list[ImageRow]:
    """docker's rule: a row per repo:tag (per digest with --digests), digest-only rows, else <none>."""
    rows = []
    for image in images:
        repo_tags: dict[str, list[str]] = {}
        repo_digests: dict[str, list[str]] = {}
        for ref in image.get("RepoTags") or []:
            if ref.startswith("<none>"):
                continue
            repo, tag = split_reference(ref)
            if tag:
                repo_tags.setdefault(familiar_name(repo), []).append(tag)
        for ref in image.get("RepoDigests") or []:
            if ref.startswith("<none>") or "@" not in ref:
                continue
            repo, digest = ref.split("@", 1)
            repo_digests.setdefault(familiar_name(repo), []).append(digest)
        for repo, tags in repo_tags.items():
            repo_digest_list = repo_digests.pop(repo, [])
            for tag in tags:
                if not digests or not repo_digest_list:
                    rows.append(ImageRow(image, repo, tag, "<none>", trunc))
                    continue
                for digest in repo_digest_list:
                    rows.append(ImageRow(image, repo, tag, digest, trunc))
        for repo, digest_list in repo_digests.items():
            if digests:
                rows += [ImageRow(image, repo, "<none>", d, trunc) for d in digest_list]
            else:
                rows.append(ImageRow(image, repo, "<none>", "<none>", trunc))
        if not repo_tags and not repo_digests:
            rows.append(ImageRow(image, "<none>", "<none>", "<none>", trunc))
    return rows


@handles(IMAGES)
def images(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.filterflag import parse_filters
    from dockyard.cli.template import print_rows

    filter_items = list(opts["filter"])
    if args:
        filter_items.append(f"reference={args[0]}")
    filters = parse_filters(filter_items)
    found = cli.client.get("/images/json", {"all": opts["all"] or None, "filters": filters})
    rows = image_rows(found or [], opts["digests"], not opts["no_trunc"])
    if opts["quiet"] and not opts["format"]:
        fmt = "{{.ID}}"
    else:
        fmt = opts["format"] or (IMAGES_TABLE_DIGESTS if opts["digests"] else IMAGES_TABLE)
        if fmt == "table":
            fmt = IMAGES_TABLE_DIGESTS if opts["digests"] else IMAGES_TABLE
        elif fmt.startswith("table") and opts["digests"] and "{{.Digest}}" not in fmt:
            fmt += "\t{{.Digest}}"  # docker's NewImageFormat
    return print_rows(cli, fmt, rows, Header(_IMAGE_HEADERS))


# -- import ------------------------------------------------------------------------
IMPORT = Command(
    "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
    "Import the contents from a tarball to create a filesystem image",
    (
        CHANGE,
        Flag("message", "m", STRING, "Set commit message for imported image", metavar="string"),
        PLATFORM,
    ),
    min_args=1,
    max_args=2,
    aliases=("image import",),
)


def show_progress(messages: Any, out: Any) -> None:
    """Print a JSON progress stream like docker off a terminal; an error message raises."""
    for message in messages:
        if not isinstance(message, dict):
            continue
        if message.get("errorDetail") or message.get("error"):
            detail = message.get("errorDetail") or {}
            raise ClientError(detail.get("message") or message.get("error"))
        line = json_message_line(message)
        if line:
            out.write(line)
            out.flush()


@handles(IMPORT)
def import_(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    source = args[0]
    repo, tag = split_reference(args[1]) if len(args) > 1 else ("", "")
    params: dict[str, Any] = {
        "fromSrc": source if "://" in source else "-",
        "repo": repo or None,
        "tag": tag or None,
        "message": opts["message"] or None,
        "changes": opts["change"] or None,
        "platform": opts["platform"] or None,
    }
    body: Any = None
    if "://" not in source:
        if source == "-":
            body = sys.stdin.buffer
        else:
            try:
                body = open(source, "rb")  # noqa: SIM115 - closed below
            except OSError as e:
                cli.err(f"open {source}: {e.strerror.lower()}\n")
                return 1
    try:
        resp = cli.client.request(
            "POST", "/images/create", params, body, {"Content-Type": "application/x-tar"}
        )
        show_progress(cli.client.json_stream(resp), sys.stdout)
    except ClientError as e:
        cli.err(f"{e}\n")
        return 1
    finally:
        if body is not None and body is not sys.stdin.buffer:
            body.close()
    return 0


# -- tag, rmi ----------------------------------------------------------------------
TAG = Command(
    "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
    "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    min_args=2,
    max_args=2,
    aliases=("image tag",),
)


@handles(TAG)
def tag(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    repo, tag_name = split_reference(args[1])
    if "@" in repo:
        cli.err("refusing to create a tag with a digest reference\n")
        return 1
    cli.client.post(
        f"/images/{quote(args[0], safe='/:@')}/tag", {"repo": repo, "tag": tag_name or "latest"}
    )
    return 0


RMI = Command(
    "rmi [OPTIONS] IMAGE [IMAGE...]",
    "Remove one or more images",
    (
        Flag("force", "f", BOOL, "Force removal of the image"),
        Flag("no-prune", "", BOOL, "Do not delete untagged parents"),
    ),
    min_args=1,
    aliases=("image rm", "image remove"),
)


@handles(RMI)
def rmi(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.lifecycle import each

    params = {"force": opts["force"] or None, "noprune": opts["no_prune"] or None}

    def one(name: str) -> str:
        deleted = cli.client.delete(f"/images/{quote(name, safe='/:@')}", params) or []
        return "\n".join(
            f"{what}: {item[what]}"
            for item in deleted
            for what in ("Untagged", "Deleted")
            if item.get(what)
        )

    return each(cli, args, one)


# -- history -----------------------------------------------------------------------
HISTORY = Command(
    "history [OPTIONS] IMAGE",
    "Show the history of an image",
    (
        FORMAT,
        Flag("human", "H", BOOL, "Print sizes and dates in human readable format", default=True),
        NO_TRUNC,
        _QUIET_IDS,
        Flag("platform", "", STRING, "Show history for the given platform", metavar="string"),
    ),
    min_args=1,
    max_args=1,
    aliases=("image history",),
)
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_TABLE_NOHUMAN = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
_HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


class HistoryRow:
    """One row of `history`, docker's historyContext."""

    go_type = "*formatter.historyContext"

    def __init__(self, h: dict[str, Any], trunc: bool, human: bool) -> None:
        self.h, self.trunc, self.human = h, trunc, human

    def template_field(self, name: str) -> Any:
        from dockyard.cli.format import ellipsis

        h = self.h
        created = h.get("Created", 0)
        if name == "ID":
            image_id = h.get("Id", "")
            return short_id(image_id) if self.trunc and image_id != "<missing>" else image_id
        if name in ("CreatedSince", "CreatedAt"):
            if name == "CreatedSince" and self.human:
                return since(created)
            return _rfc3339(created)
        if name == "CreatedBy":
            created_by = (h.get("CreatedBy") or "").replace("\t", " ")
            return ellipsis(created_by, 45) if self.trunc else created_by
        if name == "Size":
            size = h.get("Size") or 0
            return human_size(size) if self.human else str(size)
        if name == "Comment":
            return h.get("Comment") or ""
        if name == "Tags":
            return ", ".join(h.get("Tags") or [])
        raise KeyError(name)

    def template_json(self) -> dict[str, Any]:
        return columns_json(self, _HISTORY_HEADERS)


def _rfc3339(timestamp: float) -> str:
    """Go's time.Unix(t).Format(time.RFC3339) in local time."""
    import time as _time

    t = _time.localtime(timestamp)
    offset = t.tm_gmtoff
    if offset == 0:
        zone = "Z"
    else:
        sign = "+" if offset > 0 else "-"
        zone = f"{sign}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    return _time.strftime("%Y-%m-%dT%H:%M:%S", t) + zone


@handles(HISTORY)
def history(cli: Cli, opts: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.template import print_rows

    params = {"platform": opts["platform"]} if opts["platform"] else None
    found = cli.client.get(f"/images/{quote(args[0], safe='/:@')}/history", params) or []
    rows = [HistoryRow(h, not opts["no_trunc"], opts["human"]) for h in found]
    if opts["quiet"] and not opts["format"]:
        fmt = "{{.ID}}"
    else:
        fmt = opts["format"] or "table"
        if fmt == "table":
            fmt = HISTORY_TABLE if opts["human"] else HISTORY_TABLE_NOHUMAN
    return print_rows(cli, fmt, rows, Header(_HISTORY_HEADERS))


COMMANDS = command_table(history, images, import_, tag, rmi)
