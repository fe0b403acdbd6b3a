"""The nightly picks the newest vX.Y.Z release tag, numerically, never a pre-release."""

import pytest

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
