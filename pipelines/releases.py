"""Which upstream release of The Things Stack the nightly build should use.

Upstream tags every release `vX.Y.Z`; release candidates and other tags carry a suffix
(`v3.30.0-rc1`) and are never picked. The tag list comes from `git ls-remote` (Dagger's
`GitRepository.tags`), so no GitHub API token or rate limit is involved.
"""

import re
from collections.abc import Iterable

_RELEASE_TAG = re.compile(r"^(?:refs/tags/)?v(\d+)\.(\d+)\.(\d+)$")

# Glob for GitRepository.tags: only the v-prefixed tags.
TAG_PATTERNS = ["refs/tags/v*"]


def newest_release(tags: Iterable[str]) -> str:
    """The highest X.Y.Z among release tags (`v3.32.1` or `refs/tags/v3.32.1`), as `3.32.1`."""
    releases = [tuple(int(part) for part in m.groups()) for m in map(_RELEASE_TAG.match, tags) if m]
    if not releases:
        raise ValueError(
            "no release tag (vX.Y.Z) found upstream: check the repository URL or pass --version"
        )
    return ".".join(map(str, max(releases)))
