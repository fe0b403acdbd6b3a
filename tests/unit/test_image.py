"""pipelines.image: release versions, ldflags, argv lists, labels, tags, and the check
that Dockerfile.tts builds the same image as the Dagger build (parsed, not built: no
image registry is reachable here, and ttn-lw-stack cannot be built from the Go proxy).
"""

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines import image, versions

COMMIT = "32b3f88e3232e7282ffc29c51d259d9c331ee8c9"
DATE = "2024-09-05T14:43:11Z"
PKG = "go.thethings.network/lorawan-stack/v3/pkg/version"


# --- release versions --------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.32.0", "3.0.0", "10.20.30", "0.0.1"])
def test_release_versions_are_accepted(version: str) -> None:
    assert image.check_release_version(version) == version
    assert image.release_tag(version) == f"v{version}"


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("v3.32.0", r"'v3\.32\.0': drop the leading 'v' and give '3\.32\.0'"),
        ("latest", r"'latest' is not a release number: give X\.Y\.Z such as 3\.32\.0"),
        ("3.32", r"'3\.32' is not a release number: give X\.Y\.Z"),
        ("", r"'' is not a release number"),
        (" 3.32.0", r"is not a release number"),
        ("03.32.0", r"is not a release number"),
        ("3.32.0-rc1", r"'3\.32\.0-rc1' is a pre-release or build: only release tags are built"),
        ("v3.32.0-rc.1", r"is a pre-release or build: only release tags are built"),
        ("3.32.0+build.5", r"is a pre-release or build"),
    ],
)
def test_non_releases_are_refused_with_the_fix(version: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        image.check_release_version(version)
    with pytest.raises(ValueError, match=message):
        image.release_tag(version)


# --- commit info -------------------------------------------------------------------


def test_commit_info_date_is_normalised_to_utc() -> None:
    text = f"{COMMIT}\n2024-09-05T16:43:11+02:00\n"
    assert image.parse_commit_info(text) == (COMMIT, DATE)
    assert image.parse_commit_info(f"{COMMIT}\n2024-09-05T14:43:11+00:00") == (COMMIT, DATE)


def test_commit_info_argv_prints_hash_then_iso_date() -> None:
    assert image.COMMIT_INFO_ARGV == ["git", "log", "-1", "--format=%H%n%cI"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unexpected commit info ''"),
        ("fatal: not a git repository", "unexpected commit info"),
        (f"{COMMIT[:7]}\n2024-09-05T14:43:11+00:00", "unexpected commit info"),
        (f"{COMMIT}\nyesterday", "unexpected commit date 'yesterday'"),
        (f"{COMMIT}\n2024-09-05T14:43:11", "has no time zone"),
        (f"{COMMIT}\n2024-09-05T14:43:11Z\nextra", "unexpected commit info"),
    ],
)
def test_commit_info_garbage_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        image.parse_commit_info(text)
    assert "`git log -1 --format=%H%n%cI` run in the checkout" in str(error.value)


# --- ldflags and go build ----------------------------------------------------------


def test_ldflags_match_upstreams_release_flags() -> None:
    assert image.ldflags("3.32.0", COMMIT, DATE) == (
        f"-s -w -X {PKG}.TTN=3.32.0 -X {PKG}.GitCommit=32b3f88 -X {PKG}.BuildDate={DATE}"
    )
    # A short hash gives the same 7 digits.
    assert image.ldflags("3.32.0", COMMIT[:9], DATE) == image.ldflags("3.32.0", COMMIT, DATE)


@pytest.mark.parametrize(
    ("version", "commit", "date", "message"),
    [
        ("3.32.0", "HEAD", DATE, "commit 'HEAD' is not a git hash: give at least 7"),
        ("3.32.0", COMMIT.upper(), DATE, "is not a git hash"),
        ("3.32.0", COMMIT, "2024-09-05T16:43:11+02:00", "is not UTC ISO 8601: give YYYY"),
        ("3.32.0", COMMIT, "2024-02-30T00:00:00Z", "is not UTC ISO 8601"),
        ("3.32 0", COMMIT, DATE, "cannot go into -ldflags: use a non-empty value without"),
        ('3.32.0"', COMMIT, DATE, "cannot go into -ldflags"),
        ("", COMMIT, DATE, "cannot go into -ldflags"),
    ],
)
def test_ldflags_refuse_values_that_would_corrupt_them(
    version: str, commit: str, date: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        image.ldflags(version, commit, date)


def test_go_build_argv() -> None:
    argv = image.go_build_argv("ttn-lw-cli", "3.32.0", COMMIT, DATE)
    assert argv == [
        "go",
        "build",
        "-trimpath",
        "-buildvcs=false",
        "-ldflags",
        image.ldflags("3.32.0", COMMIT, DATE),
        "-o",
        "/out/ttn-lw-cli",
        "./cmd/ttn-lw-cli",
    ]
    assert image.GO_BUILD_ENV["CGO_ENABLED"] == "0"
    assert image.GO_BUILD_ENV["GOTOOLCHAIN"] == "local"
    assert image.GO_MOD_DOWNLOAD_ARGV == ["go", "mod", "download"]


def test_go_build_refuses_unknown_binaries() -> None:
    with pytest.raises(ValueError, match="unknown TTS binary 'ttn-lw-gw': use one of ttn-lw-stack"):
        image.go_build_argv("ttn-lw-gw", "3.32.0", COMMIT, DATE)


def test_web_build_runs_upstreams_mage_targets() -> None:
    assert image.WEB_BUILD_ARGV == [
        "sh",
        "-c",
        "make tools/bin/mage && tools/bin/mage js:buildDll && tools/bin/mage js:build"
        " && test -s public/manifest.yaml",
    ]
    assert image.WEB_BUILD_ENV["NODE_ENV"] == "production"
    assert "CI" not in image.WEB_BUILD_ENV


# --- labels and tags ---------------------------------------------------------------


def test_oci_labels() -> None:
    labels = image.oci_labels("3.32.0", COMMIT, DATE)
    assert labels["org.opencontainers.image.source"] == (
        "https://github.com/TheThingsNetwork/lorawan-stack"
    )
    assert labels["org.opencontainers.image.version"] == "3.32.0"
    assert labels["org.opencontainers.image.revision"] == COMMIT
    assert labels["org.opencontainers.image.created"] == DATE
    assert labels["org.opencontainers.image.base.name"] == versions.RUNTIME_IMAGE
    assert all(key.startswith("org.opencontainers.image.") for key in labels)


def test_oci_labels_refuse_a_short_revision_or_local_date() -> None:
    with pytest.raises(ValueError, match="is not a full git hash: give all 40 hex digits"):
        image.oci_labels("3.32.0", COMMIT[:7], DATE)
    with pytest.raises(ValueError, match="is not UTC ISO 8601"):
        image.oci_labels("3.32.0", COMMIT, "2024-09-05")


def test_image_tags() -> None:
    assert image.image_tags("3.32.0", COMMIT) == ["3.32.0", "3.32.0-32b3f88"]
    with pytest.raises(ValueError, match="is not a valid image tag"):
        image.image_tags("3.32.0/x", COMMIT)
    with pytest.raises(ValueError, match="is not a git hash"):
        image.image_tags("3.32.0", "main")


def test_pinned_release_commit_is_well_formed() -> None:
    # The commit of v3.32.0 and its date (from upstream's repository) must at least parse;
    # the Dockerfile's source stage compares them with the clone.
    assert image.parse_commit_info(f"{versions.TTS_COMMIT}\n{versions.TTS_COMMIT_DATE}") == (
        versions.TTS_COMMIT,
        versions.TTS_COMMIT_DATE,
    )
    assert versions.TTS_VERSION == "3.32.0", "bump versions.TTS_COMMIT(_DATE) with TTS_VERSION"


# --- Dockerfile.tts in step with the plan ------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its stage ("" before the first FROM), keyword, text."""

    stage: str
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Logical instructions: continuations joined, comment lines dropped (as docker does)."""
    instructions: list[Instruction] = []
    stage = ""
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        if not logical:
            continue
        keyword, _, args = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            stage = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else "runtime"
        instructions.append(Instruction(stage, keyword, " ".join(args.split())))
    return instructions


def _without_mounts(args: str) -> str:
    return " ".join(word for word in args.split() if not word.startswith("--mount="))


def _mounts(args: str) -> set[str]:
    return set(re.findall(r"--mount=type=cache,target=(\S+)", args))


def _assignments(args: str) -> dict[str, str]:
    return dict(word.split("=", 1) for word in shlex.split(args))


def _expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _shell_commands(args: str) -> list[str]:
    return [part.strip() for part in re.split(r"\s&&\s", args)]


class _Dockerfile:
    def __init__(self, text: str) -> None:
        self.text = text
        self.instructions = parse_dockerfile(text)
        self.args = dict(a.split("=", 1) for a in self.stage("", "ARG") if "=" in a)

    def stage(self, name: str, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.stage == name and i.keyword == keyword]


def _pinned_args() -> dict[str, str]:
    return {
        "TTS_VERSION": versions.TTS_VERSION,
        "TTS_COMMIT": versions.TTS_COMMIT,
        "TTS_COMMIT_DATE": versions.TTS_COMMIT_DATE,
        "GO_IMAGE": versions.GO_IMAGE,
        "NODE_IMAGE": versions.NODE_IMAGE,
        "RUNTIME_IMAGE": versions.RUNTIME_IMAGE,
    }


def _pin_mismatches(d: _Dockerfile) -> list[str]:
    out = []
    if ":latest" in d.text:
        out.append("an image is tagged :latest")
    if d.args != _pinned_args():
        out.append(f"ARG defaults {d.args} != pins {_pinned_args()}")
    froms = [i.args for i in d.instructions if i.keyword == "FROM"]
    expected = [
        "${GO_IMAGE} AS toolchain",
        "${GO_IMAGE} AS source",
        "${GO_IMAGE} AS go",
        "${NODE_IMAGE} AS web",
        "${RUNTIME_IMAGE}",
    ]
    if froms != expected:
        out.append(f"FROM stages {froms} != {expected}")
    # source: the release tag and the shipped data submodules.
    clone = " ".join(d.stage("source", "RUN"))
    for needle in [
        '--branch "v${TTS_VERSION}"',
        image.TTS_GIT_URL,
        *(f"--recurse-submodules={path}" for path in image.DATA_DIRS),
    ]:
        if needle not in clone:
            out.append(f"source stage clone lacks {needle}")
    return out


def _go_mismatches(d: _Dockerfile) -> list[str]:
    out = []
    env = _assignments(" ".join(d.stage("go", "ENV")))
    if {k: env.get(k) for k in image.GO_BUILD_ENV} != image.GO_BUILD_ENV:
        out.append(f"go stage ENV {env} lacks GO_BUILD_ENV {image.GO_BUILD_ENV}")
    runs = d.stage("go", "RUN")
    if shlex.join(image.GO_MOD_DOWNLOAD_ARGV) not in [_without_mounts(r) for r in runs]:
        out.append("go stage has no RUN of GO_MOD_DOWNLOAD_ARGV")
    build = " ".join(runs)
    flags = re.findall(r'ldflags="([^"]*)"', build)
    sample = {"TTS_VERSION": "9.8.7", "git_commit": COMMIT[:7], "build_date": DATE}
    expected_ldflags = image.ldflags("9.8.7", COMMIT, DATE)
    if [_expand(f, sample) for f in flags] != [expected_ldflags]:
        out.append(f"ldflags {flags} != image.ldflags: {expected_ldflags}")
    go_builds = [
        [expected_ldflags if w == "${ldflags}" else w for w in shlex.split(cmd)]
        for cmd in _shell_commands(_without_mounts(build))
        if cmd.startswith("go build")
    ]
    expected = [image.go_build_argv(b, "9.8.7", COMMIT, DATE) for b in image.BINARIES]
    if go_builds != expected:
        out.append(f"go build commands {go_builds} != image.go_build_argv {expected}")
    if not {image.GO_MOD_CACHE, image.GO_BUILD_CACHE} <= _mounts(build):
        out.append("go stage does not cache GO_MOD_CACHE and GO_BUILD_CACHE")
    return out


def _web_mismatches(d: _Dockerfile) -> list[str]:
    out = []
    if f"--from=toolchain {image.GO_ROOT} {image.GO_ROOT}" not in d.stage("web", "COPY"):
        out.append("web stage does not copy the Go toolchain from the toolchain stage")
    env = _assignments(" ".join(d.stage("web", "ENV")))
    if {k: env.get(k) for k in image.WEB_BUILD_ENV} != image.WEB_BUILD_ENV:
        out.append(f"web stage ENV {env} lacks WEB_BUILD_ENV {image.WEB_BUILD_ENV}")
    if not env.get("PATH", "").startswith(f"{image.GO_ROOT}/bin:"):
        out.append("web stage PATH does not start with the Go toolchain")
    runs = d.stage("web", "RUN")
    if [_without_mounts(r) for r in runs] != [image.WEB_BUILD_SCRIPT]:
        out.append(f"web stage RUN {runs} != WEB_BUILD_SCRIPT {image.WEB_BUILD_SCRIPT}")
    caches = {image.YARN_CACHE, image.GO_MOD_CACHE, image.GO_BUILD_CACHE}
    if not caches <= _mounts(" ".join(runs)):
        out.append("web stage does not cache YARN_CACHE, GO_MOD_CACHE and GO_BUILD_CACHE")
    return out


def _runtime_mismatches(d: _Dockerfile) -> list[str]:
    out = []
    pins = _pinned_args()
    labels = _assignments(_expand(" ".join(d.stage("runtime", "LABEL")), {**pins, **d.args}))
    expected_labels = image.oci_labels(
        pins["TTS_VERSION"], pins["TTS_COMMIT"], pins["TTS_COMMIT_DATE"]
    )
    if labels.keys() != expected_labels.keys():
        out.append(f"LABEL keys {sorted(labels)} != oci_labels keys {sorted(expected_labels)}")
    elif labels != expected_labels:
        out.append(f"LABEL values {labels} != oci_labels {expected_labels}")
    expected_runs = [image.RUNTIME_SETUP_SCRIPT, shlex.join(image.BLOB_DIR_ARGV)]
    if d.stage("runtime", "RUN") != expected_runs:
        out.append(f"runtime RUN {d.stage('runtime', 'RUN')} != {expected_runs}")
    expected_copies = [
        f"--from=go {' '.join(f'/out/{b}' for b in image.BINARIES)} {image.BIN_DIR}/",
        f"--from=web /src/public {image.PUBLIC_DIR}",
        *(f"--from=source /src/{src} {dst}" for src, dst in image.DATA_DIRS.items()),
    ]
    if d.stage("runtime", "COPY") != expected_copies:
        out.append(f"runtime COPY {d.stage('runtime', 'COPY')} != {expected_copies}")
    uid = f"{image.UID}:{image.UID}"
    if d.stage("runtime", "USER") != [uid]:
        out.append(f"USER {d.stage('runtime', 'USER')} != {uid}")
    if d.stage("runtime", "WORKDIR") != [image.WORKDIR]:
        out.append(f"WORKDIR {d.stage('runtime', 'WORKDIR')} != {image.WORKDIR}")
    entrypoint = [json.loads(a) for a in d.stage("runtime", "ENTRYPOINT")]
    cmd = [json.loads(a) for a in d.stage("runtime", "CMD")]
    if entrypoint != [list(image.ENTRYPOINT)] or cmd != [list(image.DEFAULT_ARGS)]:
        out.append(f"ENTRYPOINT/CMD {entrypoint} {cmd} != {image.ENTRYPOINT} {image.DEFAULT_ARGS}")
    if [a.split() for a in d.stage("runtime", "EXPOSE")] != [list(image.EXPOSED_PORTS)]:
        out.append(f"EXPOSE {d.stage('runtime', 'EXPOSE')} != {image.EXPOSED_PORTS}")
    return out


def dockerfile_mismatches(text: str) -> list[str]:
    """Every way `text` (a Dockerfile.tts) differs from pipelines.image and versions."""
    d = _Dockerfile(text)
    return [*_pin_mismatches(d), *_go_mismatches(d), *_web_mismatches(d), *_runtime_mismatches(d)]


@pytest.fixture(scope="module")
def dockerfile(repo_root: Path) -> str:
    return (repo_root / "Dockerfile.tts").read_text()


def test_dockerfile_builds_the_same_image_as_the_plan(dockerfile: str) -> None:
    assert dockerfile_mismatches(dockerfile) == []


def test_dockerfile_parser_sees_every_stage(dockerfile: str) -> None:
    stages = {i.stage for i in parse_dockerfile(dockerfile)}
    assert stages == {"", "toolchain", "source", "go", "web", "runtime"}


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("ARG TTS_VERSION=3.32.0", "ARG TTS_VERSION=3.31.0", "ARG defaults"),
        ("ARG GO_IMAGE=golang:1.23.12-bookworm", "ARG GO_IMAGE=golang:1.22-bookworm", "ARG"),
        ("ARG TTS_COMMIT=32b3f88", "ARG TTS_COMMIT=00000000", "ARG defaults"),
        ("FROM ${NODE_IMAGE} AS web", "FROM node:latest AS web", ":latest"),
        ("FROM ${GO_IMAGE} AS go", "FROM ${NODE_IMAGE} AS go", "FROM stages"),
        ("version.GitCommit=", "version.Commit=", "ldflags"),
        (f" -X {PKG}.BuildDate=${{build_date}}", "", "ldflags"),
        ('ldflags="-s -w ', 'ldflags="-w ', "ldflags"),
        ("go build -trimpath -buildvcs=false -ldflags", "go build -ldflags", "go build commands"),
        ("-o /out/ttn-lw-cli ./cmd/ttn-lw-cli", "-o /out/cli ./cmd/ttn-lw-cli", "go build"),
        ("ENV CGO_ENABLED=0", "ENV CGO_ENABLED=1", "GO_BUILD_ENV"),
        ("tools/bin/mage js:buildDll && ", "", "WEB_BUILD_SCRIPT"),
        ("--from=toolchain /usr/local/go", "--from=go /usr/local/go", "Go toolchain"),
        ("/srv/ttn-lorawan/public\n", "/srv/tts/public\n", "runtime COPY"),
        (
            "COPY --from=source /src/data/lorawan-frequency-plans "
            "/srv/ttn-lorawan/lorawan-frequency-plans\n",
            "",
            "runtime COPY",
        ),
        ("image.revision=", "image.commit=", "LABEL keys"),
        ('image.created="${TTS_COMMIT_DATE}"', 'image.created="2024"', "LABEL values"),
        ("adduser -u 886", "adduser -u 1000", "runtime RUN"),
        ("USER 886:886", "USER thethings", "USER"),
        ("WORKDIR /srv/ttn-lorawan\n", "", "WORKDIR"),
        ('CMD ["start"]', 'CMD ["start", "all"]', "ENTRYPOINT/CMD"),
        ("1885 1887", "1885 8885 1887", "EXPOSE"),
        ("--recurse-submodules=data/lorawan-webhook-templates", "", "clone lacks"),
    ],
)
def test_dockerfile_drift_is_caught(dockerfile: str, old: str, new: str, complaint: str) -> None:
    assert old in dockerfile, f"test edit does not apply: {old!r}"
    mismatches = dockerfile_mismatches(dockerfile.replace(old, new, 1))
    assert any(complaint in m for m in mismatches), mismatches


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("UID", 1000, "USER"),
        ("WORKDIR", "/", "WORKDIR"),
        ("RUNTIME_SETUP_SCRIPT", "apk add --no-cache ca-certificates curl", "runtime RUN"),
        ("VERSION_PACKAGE", f"{image.TTS_MODULE}/pkg/buildinfo", "ldflags"),
        ("PUBLIC_DIR", "/srv/tts/public", "runtime COPY"),
        ("EXPOSED_PORTS", ("1700/udp", "1885"), "EXPOSE"),
        ("GO_BUILD_ENV", {**image.GO_BUILD_ENV, "GOFLAGS": "-mod=mod"}, "GO_BUILD_ENV"),
    ],
)
def test_plan_drift_is_caught(
    dockerfile: str, monkeypatch: pytest.MonkeyPatch, name: str, value: object, complaint: str
) -> None:
    monkeypatch.setattr(image, name, value)
    mismatches = dockerfile_mismatches(dockerfile)
    assert any(complaint in m for m in mismatches), mismatches


def test_version_pin_drift_is_caught(dockerfile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "RUNTIME_IMAGE", "alpine:3.21.0")
    assert any("ARG defaults" in m for m in dockerfile_mismatches(dockerfile))


@pytest.mark.parametrize(
    ("go_mod", "toolchain"),
    [
        ("module x\n\ngo 1.21\n", "local"),  # v3.32.0's line
        ("module x\n\ngo 1.23.12\n", "local"),
        ("module x\n\ngo 1.23.13\n", "go1.23.13"),
        ("module x\n\ngo 1.24\n", "go1.24.0"),
        ("module x\ngo 1.22.0 // comment\ntoolchain go1.24.3\n", "go1.24.3"),
        ("module x\ngo 1.22.0\ntoolchain go1.22.5\n", "local"),
    ],
)
def test_a_release_builds_with_the_toolchain_its_go_mod_names(go_mod: str, toolchain: str) -> None:
    assert image.go_toolchain(go_mod, "golang:1.23.12-bookworm") == toolchain


def test_go_toolchain_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="has no `go` line"):
        image.go_toolchain("module x\n", "golang:1.23.12-bookworm")
    with pytest.raises(ValueError, match=r"has no X\.Y\.Z tag"):
        image.go_toolchain("go 1.21\n", "golang:bookworm")
