"""pipelines.image: release versions, commit facts, the Go toolchain, build args and tags.

The image itself is Dockerfile.tts; tests/integration/test_dockerfile.py runs hadolint and
its release check for real, and tests/engine builds it under a real Dagger engine.
"""

import pytest

from pipelines import image, versions

COMMIT = "32b3f88e3232e7282ffc29c51d259d9c331ee8c9"
DATE = "2024-09-05T14:43:11Z"


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


def test_image_tags_are_the_version_and_version_sha7() -> None:
    assert image.image_tags("3.32.0", COMMIT) == ["3.32.0", "3.32.0-32b3f88"]
    with pytest.raises(ValueError, match="is not a release number"):
        image.image_tags("3.32.0/x", COMMIT)
    with pytest.raises(ValueError, match="is not a full git hash"):
        image.image_tags("3.32.0", "main")


def test_build_args_name_the_checkout_and_the_pinned_images() -> None:
    args = image.build_args("3.32.0", COMMIT, DATE, "local")
    assert args["TTS_SOURCE"] == "context"  # Dagger hands Dockerfile.tts the checkout
    assert (args["TTS_COMMIT"], args["TTS_COMMIT_DATE"], args["GOTOOLCHAIN"]) == (
        COMMIT, DATE, "local",
    )  # fmt: skip
    assert args["GO_IMAGE"] == versions.GO_IMAGE
    assert args["RUNTIME_IMAGE"] == versions.RUNTIME_IMAGE


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("3.32", COMMIT, DATE, "local"), "is not a release number"),
        (("3.32.0", COMMIT[:7], DATE, "local"), "is not a full git hash"),
        (("3.32.0", COMMIT, "2024-09-05T16:43:11+02:00", "local"), "is not YYYY-MM-DDTHH"),
        (("3.32.0", COMMIT, DATE, "auto"), "GOTOOLCHAIN 'auto': use local or goX.Y.Z"),
    ],
)
def test_build_args_refuse_what_would_mis_stamp_the_binaries(
    args: tuple[str, str, str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        image.build_args(*args)


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
