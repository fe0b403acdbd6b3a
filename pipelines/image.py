"""The TTS image build plan as data: versions, ldflags, argv lists, paths, labels, tags.

`dagger call build` (ci/) and `Dockerfile.tts` build the same image from this plan; a
unit test (tests/unit/test_image.py) parses Dockerfile.tts and checks it against it.

The build follows upstream's release flow at v3.32.0 (`.goreleaser.release.yml`: static
binaries, `-s -w` and the three `pkg/version` variables; `Dockerfile`: uid/gid 886, data
under /srv/ttn-lorawan; `.github/actions/build-frontend`: `mage js:buildDll` then
`mage js:build`). Two deliberate differences: BuildDate is the release commit's date, not
the wall clock, so that a rebuild of the same release is a cache hit and bit-identical;
and GitCommit always has 7 hex digits (goreleaser's ShortCommit length varies with the
repository), the same digits as the `<version>-<sha7>` image tag.
"""

import re
import shlex
from datetime import UTC, datetime
from typing import Final

from pipelines.versions import RUNTIME_IMAGE

TTS_GIT_URL: Final = "https://github.com/TheThingsNetwork/lorawan-stack.git"
TTS_SOURCE_URL: Final = "https://github.com/TheThingsNetwork/lorawan-stack"
TTS_MODULE: Final = "go.thethings.network/lorawan-stack/v3"
VERSION_PACKAGE: Final = f"{TTS_MODULE}/pkg/version"

# Upstream's runtime user `thethings`: uid = gid = 886.
UID: Final = 886
USER: Final = "thethings"
BINARIES: Final = ("ttn-lw-stack", "ttn-lw-cli")
BIN_DIR: Final = "/bin"
ENTRYPOINT: Final = ("/bin/ttn-lw-stack",)
DEFAULT_ARGS: Final = ("start",)
# Upstream's plain-text ports: UDP packet forwarder, gRPC, MQTT (v3, gateways), HTTP
# (API, console, /healthz, /metrics), Basic Station/LNS. TLS ports are off in the chart.
EXPOSED_PORTS: Final = ("1700/udp", "1881", "1882", "1883", "1884", "1885", "1887")

# Runtime data: public/ (console assets + blob dir), and the data submodules.
RUNTIME_ROOT: Final = "/srv/ttn-lorawan"
WORKDIR: Final = RUNTIME_ROOT
PUBLIC_DIR: Final = f"{RUNTIME_ROOT}/public"
BLOB_DIR: Final = f"{PUBLIC_DIR}/blob"
# Submodule path in the source tree -> path in the image. The device repository
# (data/lorawan-devices) is not shipped: the chart starts components explicitly.
DATA_DIRS: Final[dict[str, str]] = {
    "data/lorawan-frequency-plans": f"{RUNTIME_ROOT}/lorawan-frequency-plans",
    "data/lorawan-webhook-templates": f"{RUNTIME_ROOT}/lorawan-webhook-templates",
}

# Cache locations, mounted as cache volumes (Dagger) or cache mounts (BuildKit).
GO_ROOT: Final = "/usr/local/go"
GO_MOD_CACHE: Final = "/go/pkg/mod"
GO_BUILD_CACHE: Final = "/root/.cache/go-build"
YARN_CACHE: Final = "/usr/local/share/.cache/yarn"

# GOTOOLCHAIN=local: the pinned GO_IMAGE compiles, never a toolchain fetched because a
# go.mod asks for a newer one.
GO_BUILD_ENV: Final[dict[str, str]] = {
    "CGO_ENABLED": "0",
    "GOTOOLCHAIN": "local",
    "GOMODCACHE": GO_MOD_CACHE,
    "GOCACHE": GO_BUILD_CACHE,
}
GO_MOD_DOWNLOAD_ARGV: Final[list[str]] = ["go", "mod", "download"]

# Console/Account app assets into public/ (runs in NODE_IMAGE with GO_ROOT copied in:
# mage is a Go program). js:buildDll first, as upstream's release workflow does: js:build
# skips the DLL when CI=true. manifest.yaml is what the TTS web server loads at start.
WEB_BUILD_STEPS: Final[tuple[tuple[str, ...], ...]] = (
    ("make", "tools/bin/mage"),
    ("tools/bin/mage", "js:buildDll"),
    ("tools/bin/mage", "js:build"),
    ("test", "-s", "public/manifest.yaml"),
)
WEB_BUILD_SCRIPT: Final = " && ".join(shlex.join(step) for step in WEB_BUILD_STEPS)
WEB_BUILD_ARGV: Final[list[str]] = ["sh", "-c", WEB_BUILD_SCRIPT]
WEB_BUILD_ENV: Final[dict[str, str]] = {
    "NODE_ENV": "production",
    "YARN_CACHE_FOLDER": YARN_CACHE,
    "GOMODCACHE": GO_MOD_CACHE,
    "GOCACHE": GO_BUILD_CACHE,
    "GOTOOLCHAIN": "local",
}

# Runtime stage (RUNTIME_IMAGE is Alpine): certificates and the user, nothing else.
RUNTIME_SETUP_ARGVS: Final[tuple[tuple[str, ...], ...]] = (
    ("apk", "add", "--no-cache", "ca-certificates"),
    ("addgroup", "-g", str(UID), USER),
    ("adduser", "-u", str(UID), "-S", "-G", USER, USER),
)
RUNTIME_SETUP_SCRIPT: Final = " && ".join(shlex.join(argv) for argv in RUNTIME_SETUP_ARGVS)
RUNTIME_SETUP_ARGV: Final[list[str]] = ["sh", "-c", RUNTIME_SETUP_SCRIPT]
# The local blob store (chart: TTN_LW_BLOB_LOCAL_DIRECTORY) must be writable by 886.
BLOB_DIR_ARGV: Final[list[str]] = ["install", "-d", "-o", str(UID), "-g", str(UID), BLOB_DIR]

# `git log` in the release checkout: full commit hash, then the committer date.
COMMIT_INFO_ARGV: Final[list[str]] = ["git", "log", "-1", "--format=%H%n%cI"]

_RELEASE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_SHORT_COMMIT_LEN: Final = 7
_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_FULL_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_DATE_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
# Docker tag grammar (distribution reference).
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


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


_GO_DIRECTIVE = re.compile(r"^go[ \t]+([0-9]+)\.([0-9]+)(?:\.([0-9]+))?[ \t]*(?://.*)?$", re.M)
_TOOLCHAIN_DIRECTIVE = re.compile(
    r"^toolchain[ \t]+go([0-9]+)\.([0-9]+)\.([0-9]+)[ \t]*(?://.*)?$", re.M
)


def _image_go_version(go_image: str) -> tuple[int, int, int]:
    """(1, 23, 12) of "golang:1.23.12-bookworm"."""
    match = re.search(r":([0-9]+)\.([0-9]+)\.([0-9]+)", go_image)
    if match is None:
        raise ValueError(f"Go image {go_image!r} has no X.Y.Z tag: pin a full Go version")
    major, minor, patch = (int(n) for n in match.groups())
    return major, minor, patch


def go_toolchain(go_mod: str, go_image: str) -> str:
    """GOTOOLCHAIN for building a release whose go.mod is `go_mod` in `go_image`.

    "local" when the image's Go satisfies the go.mod (`toolchain`, else `go` line); else
    the exact toolchain the release asks for (e.g. "go1.24.3"), which the go command
    fetches from the Go module proxy and verifies against the checksum database. So a
    newer release builds with the toolchain it names instead of failing late.
    """
    found = _TOOLCHAIN_DIRECTIVE.search(go_mod) or _GO_DIRECTIVE.search(go_mod)
    if found is None:
        raise ValueError("the release's go.mod has no `go` line: is this a lorawan-stack tree?")
    major, minor, patch = (int(n or 0) for n in found.groups())
    if (major, minor, patch) <= _image_go_version(go_image):
        return "local"
    return f"go{major}.{minor}.{patch}"


def release_tag(version: str) -> str:
    """The upstream git tag of a release: "3.32.0" -> "v3.32.0"."""
    return f"v{check_release_version(version)}"


def _check_commit(commit: str) -> str:
    if not _COMMIT.fullmatch(commit):
        raise ValueError(
            f"commit {commit!r} is not a git hash: give at least 7 lowercase hex digits"
        )
    return commit


def _check_date(date: str) -> str:
    try:
        datetime.strptime(date, _DATE_FORMAT)
    except ValueError:
        raise ValueError(
            f"build date {date!r} is not UTC ISO 8601: give YYYY-MM-DDTHH:MM:SSZ "
            "(parse_commit_info produces it)"
        ) from None
    return date


def _check_ldflag_value(name: str, value: str) -> str:
    # go splits -ldflags on spaces and honours quotes: such a value would corrupt it.
    if not value or re.search(r"[\s'\"\\]", value):
        raise ValueError(
            f"{name} {value!r} cannot go into -ldflags: use a non-empty value without "
            "spaces, quotes or backslashes"
        )
    return value


def parse_commit_info(text: str) -> tuple[str, str]:
    """Parse the output of COMMIT_INFO_ARGV into (full commit hash, UTC date).

    The date becomes YYYY-MM-DDTHH:MM:SSZ whatever the committer's time zone was, so
    the Dagger build and Dockerfile.tts (which uses `date -u`) agree on it.
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


def ldflags(version: str, commit: str, date: str) -> str:
    """Go linker flags: stripped, with the TTS version, 7-digit commit and build date."""
    _check_ldflag_value("version", version)
    short = _check_commit(commit)[:_SHORT_COMMIT_LEN]
    _check_date(date)
    return " ".join(
        [
            "-s",
            "-w",
            f"-X {VERSION_PACKAGE}.TTN={version}",
            f"-X {VERSION_PACKAGE}.GitCommit={short}",
            f"-X {VERSION_PACKAGE}.BuildDate={date}",
        ]
    )


def go_build_argv(binary: str, version: str, commit: str, date: str) -> list[str]:
    """`go build` of one TTS binary into /out/<binary> (run with GO_BUILD_ENV).

    -buildvcs=false: the commit is stamped by ldflags, so the binary is the same
    whether or not the source tree carries .git (a Dagger git tree or a clone).
    """
    if binary not in BINARIES:
        raise ValueError(f"unknown TTS binary {binary!r}: use one of {', '.join(BINARIES)}")
    return [
        "go",
        "build",
        "-trimpath",
        "-buildvcs=false",
        "-ldflags",
        ldflags(version, commit, date),
        "-o",
        f"/out/{binary}",
        f"./cmd/{binary}",
    ]


def oci_labels(version: str, revision: str, created: str) -> dict[str, str]:
    """OCI image annotations: source, version, full git revision, creation date."""
    if not _FULL_COMMIT.fullmatch(revision):
        raise ValueError(f"revision {revision!r} is not a full git hash: give all 40 hex digits")
    return {
        "org.opencontainers.image.title": "The Things Stack",
        "org.opencontainers.image.source": TTS_SOURCE_URL,
        "org.opencontainers.image.version": _check_ldflag_value("version", version),
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.created": _check_date(created),
        "org.opencontainers.image.licenses": "Apache-2.0",
        "org.opencontainers.image.base.name": RUNTIME_IMAGE,
    }


def image_tags(version: str, commit: str) -> list[str]:
    """Registry tags of a build: `<version>` and `<version>-<sha7>`."""
    if not _TAG.fullmatch(version):
        raise ValueError(
            f"version {version!r} is not a valid image tag: use letters, digits, '_', '.', '-'"
        )
    return [version, f"{version}-{_check_commit(commit)[:_SHORT_COMMIT_LEN]}"]
