"""Host names as the pipelines take them: a DNS name or an IPv4 address, nothing more."""

from __future__ import annotations

import re
from typing import Final

# One DNS label (also the registry part of an image reference, pipelines.oci).
LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# A DNS name or IPv4 address that a certificate SAN and a URL can carry.
_HOST = re.compile(rf"^(?=.{{1,253}}$){LABEL}(?:\.{LABEL})*$")


def check_host(host: str) -> str:
    """A DNS name or IPv4 address (no scheme, no port), else a one-line fix."""
    if not _HOST.match(host):
        raise ValueError(
            f"host {host!r} is not a DNS name or IPv4 address: pass e.g. 'tts.example.com'"
        )
    return host
