"""What `build` needs besides Dockerfile.tts: which release, which commit, which toolchain.

Dockerfile.tts at the repository root is the one definition of the image (stages, ldflags,
user, labels). `dagger call build` runs it through the engine's BuildKit with
`build_args(...)`; a plain `docker build -f Dockerfile.tts` uses the same file with the
defaults of its ARGs, which tests/integration/test_dockerfile.py keeps equal to
pipelines/versions.py.
"""

import re
import shlex
from datetime import UTC, datetime
from typing import Final

from pipelines import versions

TTS_GIT_URL: Final = "https://github.com/TheThingsNetwork/lorawan-stack.git"
DOCKERFILE: Final = "Dockerfile.tts"
# Its own ignore file, next to it (BuildKit's <Dockerfile>.dockerignore): the checkout's
# .dockerignore would drop .git, which the console build reads.
DOCKERIGNORE: Final = f"{DOCKERFILE}.dockerignore"
# Dockerfile.tts stages a caller may stop at.
GO_STAGE: Final = "go"
# Where the go stage leaves the binaries.
BINARIES_DIR: Final = "/out"
# Large submodule the image does not ship: kept out of the build context.
CONTEXT_EXCLUDE: Final = ("data/lorawan-devices",)

# `git log` in the checkout: full commit hash, then the committer date.
COMMIT_INFO_ARGV: Final[list[str]] = ["git", "log", "-1", "--format=%H%n%cI"]

_RELEASE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_SHORT_COMMIT_LEN: Final = 7
_FULL_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_DATE_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
_GO_DIRECTIVE = re.compile(r"^go[ \t]+([0-9]+)\.([0-9]+)(?:\.([0-9]+))?[ \t]*(?://.*)?$", re.M)
_TOOLCHAIN_DIRECTIVE = re.compile(
    r"^toolchain[ \t]+go([0-9]+)\.([0-9]+)\.([0-9]+)[ \t]*(?://.*)?$", re.M
)


def check_release_version(version: str) -> str:
    """Return `version` if it is a TTS release number X.Y.Z, else a one-line ValueError."""
    if _RELEASE.fullmatch(version):
        return version
    if version.startswith("v") and _RELEASE.fullmatch(version[1:]):
        raise ValueError(
            f"TTS version {version!r}: drop the leading 'v' and give {version[1:]!r} "
            "(the tag v-prefix is added by the build)"
        )
    if re.fullmatch(r"v?[0-9]+\.[0-9]+\.[0-9]+[-+].*", version):
        raise ValueError(
            f"TTS version {version!r} is a pre-release or build: only release tags are "
            "built; give X.Y.Z such as 3.32.0"
        )
    raise ValueError(
        f"TTS version {version!r} is not a release number: give X.Y.Z such as 3.32.0 "
        "(no 'latest', no partial versions)"
    )


def release_tag(version: str) -> str:
    """The upstream git tag of a release: "3.32.0" -> "v3.32.0"."""
    return f"v{check_release_version(version)}"


def parse_commit_info(text: str) -> tuple[str, str]:
    """Parse the output of COMMIT_INFO_ARGV into (full commit hash, UTC date).

    The date becomes YYYY-MM-DDTHH:MM:SSZ whatever the committer's time zone was, as
    Dockerfile.tts's release check computes it with `date -u`.
    """
    lines = text.strip().splitlines()
    expected = f"expected the output of `{shlex.join(COMMIT_INFO_ARGV)}` run in the checkout"
    if len(lines) != 2 or not _FULL_COMMIT.fullmatch(lines[0].strip()):  # noqa: PLR2004
        raise ValueError(f"unexpected commit info {text[:120]!r}: {expected}")
    try:
        when = datetime.fromisoformat(lines[1].strip())
    except ValueError:
        raise ValueError(f"unexpected commit date {lines[1][:60]!r}: {expected}") from None
    if when.tzinfo is None:
        raise ValueError(f"commit date {lines[1]!r} has no time zone: {expected}")
    return lines[0].strip(), when.astimezone(UTC).strftime(_DATE_FORMAT)


def _image_go_version(go_image: str) -> tuple[int, int, int]:
    """(1, 23, 12) of "golang:1.23.12-bookworm"."""
    match = re.search(r":([0-9]+)\.([0-9]+)\.([0-9]+)", go_image)
    if match is None:
        raise ValueError(f"Go image {go_image!r} has no X.Y.Z tag: pin a full Go version")
    major, minor, patch = (int(n) for n in match.groups())
    return major, minor, patch


def go_toolchain(go_mod: str, go_image: str = versions.GO_IMAGE) -> str:
    """GOTOOLCHAIN for building a tree whose go.mod is `go_mod` in `go_image`.

    "local" when the image's Go satisfies the go.mod (`toolchain`, else `go` line); else
    the exact toolchain the release asks for (e.g. "go1.24.3"), which the go command
    fetches from the Go module proxy and verifies against the checksum database. So a
    newer release builds with the toolchain it names instead of failing late.
    """
    found = _TOOLCHAIN_DIRECTIVE.search(go_mod) or _GO_DIRECTIVE.search(go_mod)
    if found is None:
        raise ValueError("the tree's go.mod has no `go` line: is this a lorawan-stack checkout?")
    major, minor, patch = (int(n or 0) for n in found.groups())
    if (major, minor, patch) <= _image_go_version(go_image):
        return "local"
    return f"go{major}.{minor}.{patch}"


def build_args(version: str, commit: str, date: str, toolchain: str) -> dict[str, str]:
    """Dockerfile.tts build arguments for a checkout given as the build context.

    The base images come from pipelines/versions.py, so the pins have one home.
    """
    check_release_version(version)
    if not _FULL_COMMIT.fullmatch(commit):
        raise ValueError(f"commit {commit!r} is not a full git hash: give all 40 hex digits")
    try:
        datetime.strptime(date, _DATE_FORMAT)
    except ValueError:
        raise ValueError(f"commit date {date!r} is not YYYY-MM-DDTHH:MM:SSZ (UTC)") from None
    if toolchain != "local" and not re.fullmatch(r"go[0-9]+\.[0-9]+\.[0-9]+", toolchain):
        raise ValueError(f"GOTOOLCHAIN {toolchain!r}: use local or goX.Y.Z")
    return {
        "TTS_SOURCE": "context",
        "TTS_VERSION": version,
        "TTS_COMMIT": commit,
        "TTS_COMMIT_DATE": date,
        "GOTOOLCHAIN": toolchain,
        "GO_IMAGE": versions.GO_IMAGE,
        "NODE_IMAGE": versions.NODE_IMAGE,
        "RUNTIME_IMAGE": versions.RUNTIME_IMAGE,
    }


def image_tags(version: str, commit: str) -> list[str]:
    """Registry tags of a build: `<version>` and `<version>-<sha7>`."""
    check_release_version(version)
    if not _FULL_COMMIT.fullmatch(commit):
        raise ValueError(f"commit {commit!r} is not a full git hash: give all 40 hex digits")
    return [version, f"{version}-{commit[:_SHORT_COMMIT_LEN]}"]
