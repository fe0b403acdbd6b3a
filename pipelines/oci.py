"""OCI image references: one parser for every place that takes an image.

`[registry[:port]/]path[:tag][@sha256:<64 hex>]`, as the distribution reference grammar
(distribution/reference); the chart, the kind e2e, deploy and publish all use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.names import LABEL

_REGISTRY = rf"(?:{LABEL}(?:\.{LABEL})*(?::[0-9]+)?/)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REF = re.compile(
    rf"^(?P<repository>{_REGISTRY}?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


@dataclass(frozen=True)
class ImageRef:
    """An image reference split the way the chart takes it (repository, tag, digest)."""

    repository: str
    tag: str | None
    digest: str | None

    @property
    def registry(self) -> str:
        """The first path element: the registry host of a fully qualified reference."""
        return self.repository.split("/", 1)[0]

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.repository}{tag}{digest}"


def parse_image_ref(ref: str) -> ImageRef:
    """Split `[registry/]repo[:tag][@sha256:<64 hex>]`; an unpinned or malformed ref fails."""
    match = _IMAGE_REF.match(ref)
    if match is None:
        raise ValueError(
            f"image {ref!r} is not a valid reference: use <registry>/<repo>:<tag> or "
            "<registry>/<repo>@sha256:<64 hex> (lowercase repository)"
        )
    tag, digest = match["tag"], match["digest"]
    if digest is None and tag in (None, "latest"):
        raise ValueError(f"image {ref!r} is not pinned: add a version tag or @sha256:<digest>")
    return ImageRef(match["repository"], tag, digest)


def is_pinned(ref: str) -> bool:
    """True for a valid reference with a version tag or a digest (never `latest`/untagged)."""
    try:
        parse_image_ref(ref)
    except ValueError:
        return False
    return True
