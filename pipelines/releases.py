"""Which upstream release of The Things Stack the nightly build should use.

Upstream tags every release `vX.Y.Z`; release candidates and other tags carry a suffix
(`v3.30.0-rc1`) and are never picked. The tag list comes from `git ls-remote` (Dagger's
`GitRepository.tags`), so no GitHub API token or rate limit is involved.
"""

import re
from collections.abc import Iterable

from pipelines.image import TTS_GIT_URL

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


def pin_update_steps(version: str, pinned_from: str) -> str:
    """What must move by hand when TTS_VERSION becomes `version` (Renovate moves only it):
    the commit and date Dockerfile.tts checks the clone against, and what depends on them."""
    tag = f"v{version}"
    return (
        f"TTS_VERSION is {version} but TTS_COMMIT and TTS_COMMIT_DATE are {pinned_from}'s. "
        f"In pipelines/versions.py and Dockerfile.tts, set TTS_COMMIT to the commit of tag {tag} "
        f"(`git ls-remote {TTS_GIT_URL} 'refs/tags/{tag}*'`, or `dagger call with-azure nightly`, "
        "which prints it), TTS_COMMIT_DATE to that commit's committer date in UTC "
        "(`git log -1 --format=%cI`), and TTS_COMMIT_RELEASE to "
        f"{version}. Then check: GO_IMAGE against the release's go.mod `go`/`toolchain` lines; "
        "TTS_PREVIOUS_VERSION if the release adds a schema migration; the module versions in "
        ".trivyignore.yaml against the release's go.mod; the chart's appVersion and image tags."
    )


def newest_release_pins(version: str, commit: str, date: str, toolchain: str) -> str:
    """The nightly's lines for a newer upstream release: the values to pin it with."""
    go = (
        "GO_IMAGE's Go builds it"
        if toolchain == "local"
        else f"its go.mod asks for {toolchain}: move GO_IMAGE to at least that Go"
    )
    return (
        f"to pin {version}: TTS_VERSION = TTS_COMMIT_RELEASE = {version!r}, "
        f"TTS_COMMIT = {commit!r}, TTS_COMMIT_DATE = {date!r}; {go}"
    )
