"""Docker's image reference grammar (distribution/reference), pure.

Owns parsing and normalising `name[:tag][@digest]` the way the docker CLI and
dockerd do (`busybox` is `docker.io/library/busybox:latest`, shown familiar as
`busybox:latest`), digest validation, and image-id matching. Messages follow
distribution's wording, since users grep for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.api.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_ANCHORED_NAME_RE = re.compile(rf"^(?:({_DOMAIN})/)?({_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)$")
_TAG_RE = re.compile(rf"^{_TAG}$")
_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")
_SHORT_ID_RE = re.compile(r"^[a-f0-9]{1,64}$")
_SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


class InvalidReference(InvalidParameter):
    """An image reference that does not follow the grammar."""


class InvalidDigest(InvalidParameter):
    """A digest that is not `sha256:<64 lowercase hex>`."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A fully normalised reference: domain and path always set, tag and/or digest optional."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The full repository name, e.g. `docker.io/library/busybox`."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as docker shows it, e.g. `busybox` or `localhost:5000/x`."""
        if self.domain == DEFAULT_DOMAIN:
            rest = self.path
            if (
                rest.startswith(OFFICIAL_REPO_PREFIX)
                and "/" not in rest[len(OFFICIAL_REPO_PREFIX) :]
            ):
                rest = rest[len(OFFICIAL_REPO_PREFIX) :]
            return rest
        return self.name

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """docker's FamiliarString: `busybox:latest`, `localhost:5000/x@sha256:...`."""
        return self.familiar_name + self._suffix()

    def _suffix(self) -> str:
        out = ""
        if self.tag is not None:
            out += ":" + self.tag
        if self.digest is not None:
            out += "@" + self.digest
        return out

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, None, digest)

    def tag_name_only(self) -> Reference:
        """docker's TagNameOnly: add `latest` when neither tag nor digest is given."""
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self

    def repository(self) -> Reference:
        return Reference(self.domain, self.path)


def _split_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    if i == -1 or (
        not any(c in name[:i] for c in ".:")
        and name[:i] != "localhost"
        and name[:i].lower() == name[:i]
    ):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = name[:i], name[i + 1 :]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_normalized(s: str) -> Reference:
    """distribution's ParseNormalizedNamed: `busybox` -> docker.io/library/busybox (no tag added)."""
    if _IDENTIFIER_RE.match(s):
        raise InvalidReference(
            f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(s)
    tag_sep = remainder.find(":")
    remote = remainder[:tag_sep] if tag_sep > -1 else remainder
    if remote.lower() != remote:
        raise InvalidReference(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    return _parse(domain + "/" + remainder)


def _parse(s: str) -> Reference:
    m = _REFERENCE_RE.match(s)
    if m is None:
        if not s:
            raise InvalidReference(
                "invalid reference format: repository name must have at least one component"
            )
        if _REFERENCE_RE.match(s.lower()):
            raise InvalidReference("invalid reference format: repository name must be lowercase")
        raise InvalidReference("invalid reference format")
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f"invalid reference format: repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    nm = _ANCHORED_NAME_RE.match(name)
    assert nm is not None
    domain, path = nm.group(1) or "", nm.group(2)
    if not domain:  # e.g. "a_b.c/x": the first component looked like a host but is not one
        raise InvalidReference("invalid reference format")
    if digest is not None:
        validate_digest(digest)
    return Reference(domain, path, tag, digest)


def parse_docker_ref(s: str) -> Reference:
    """Parse and normalise a reference; a bare name gets the `latest` tag."""
    return parse_normalized(s).tag_name_only()


def parse_repository_tag(repo: str, tag: str | None) -> Reference:
    """The `repo` + `tag` query pair of tag/import/commit: `repo` may carry its own tag."""
    ref = parse_normalized(repo)
    if ref.digest is not None:
        raise InvalidReference("refusing to create a tag with a digest reference")
    if tag:
        if ref.tag is not None:
            raise InvalidReference("invalid reference format")
        validate_tag(tag)
        ref = ref.with_tag(tag)
    return ref.tag_name_only()


def validate_tag(tag: str) -> str:
    if not _TAG_RE.match(tag):
        raise InvalidReference(f"invalid tag format: {tag!r}")
    return tag


def validate_digest(digest: str) -> str:
    """A `sha256:<hex>` digest from outside, validated once at the edge."""
    if not _SHA256_RE.match(digest):
        if digest.startswith("sha256:"):
            raise InvalidDigest(f"invalid checksum digest format: {digest}")
        raise InvalidDigest(f"unsupported digest algorithm: {digest}")
    return digest


def is_full_id(s: str) -> bool:
    """A 64-hex image id, with or without `sha256:`."""
    return bool(_IDENTIFIER_RE.match(s.removeprefix("sha256:")))


def short_id_prefix(s: str) -> str | None:
    """The hex prefix if `s` could be an (abbreviated) image id, else None."""
    hexpart = s.removeprefix("sha256:")
    return hexpart if _SHORT_ID_RE.match(hexpart) else None


def truncate_id(image_id: str) -> str:
    """docker's stringid.TruncateID: 12 hex characters, no algorithm."""
    return image_id.removeprefix("sha256:")[:12]


def normalize_host(server: str) -> str:
    """A registry as `login`, `logout` and the daemon's auth and mirrors name it: the
    host of an address (`https://localhost:5000/v2/` is `localhost:5000`), Docker
    Hub's aliases as `docker.io`."""
    s = server.strip()
    for prefix in ("https://", "http://"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
    s = s.split("/", 1)[0]
    if s in (LEGACY_DEFAULT_DOMAIN, "registry-1.docker.io", "registry.hub.docker.com", ""):
        return DEFAULT_DOMAIN
    return s
