"""The nightly picks the newest vX.Y.Z release tag, numerically, never a pre-release."""

import pytest

from pipelines import releases
from pipelines.releases import newest_release


def test_numeric_not_lexical_order() -> None:
    tags = ["refs/tags/v3.9.9", "refs/tags/v3.32.0", "refs/tags/v3.31.4"]
    assert newest_release(tags) == "3.32.0"


def test_pre_releases_and_other_tags_are_ignored() -> None:
    tags = ["v3.32.1", "v3.33.0-rc1", "v3.33.0.1", "go/v3.40.0", "refs/tags/3.40.0", "v3.32.0"]
    assert newest_release(tags) == "3.32.1"


def test_no_release_tag_names_the_fix() -> None:
    with pytest.raises(ValueError, match=r"no release tag .*pass --version"):
        newest_release(["v3.33.0-rc1", "main"])


def test_a_renovate_bump_of_the_release_says_what_else_moves() -> None:
    steps = releases.pin_update_steps("3.33.0", "3.32.1")
    assert steps.startswith("TTS_VERSION is 3.33.0 but TTS_COMMIT and TTS_COMMIT_DATE are 3.32.1's")
    for must in ("tag v3.33.0", "TTS_COMMIT_RELEASE to 3.33.0", "GO_IMAGE", "TTS_PREVIOUS_VERSION",
                 ".trivyignore.yaml"):  # fmt: skip
        assert must in steps


def test_the_nightly_prints_the_pins_of_a_newer_release() -> None:
    commit = "a" * 40
    local = releases.newest_release_pins("3.33.0", commit, "2025-01-02T03:04:05Z", "local")
    assert local == (
        f"to pin 3.33.0: TTS_VERSION = TTS_COMMIT_RELEASE = '3.33.0', TTS_COMMIT = '{commit}', "
        "TTS_COMMIT_DATE = '2025-01-02T03:04:05Z'; GO_IMAGE's Go builds it"
    )
    newer_go = releases.newest_release_pins("3.33.0", commit, "2025-01-02T03:04:05Z", "go1.27.4")
    assert newer_go.endswith("its go.mod asks for go1.27.4: move GO_IMAGE to at least that Go")
