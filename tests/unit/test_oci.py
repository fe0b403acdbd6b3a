"""Image references: the one parser the chart policy, the e2e, deploy and publish share."""

import pytest

from pipelines import oci

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("redis:7.2.11-alpine", True),
        ("redis", False),
        ("redis:latest", False),
        ("host:5000/redis", False),  # a registry port is no tag
        ("host:5000/redis:7.2", True),
        ("redis@sha256:" + "a" * 64, True),
        ("Redis:7.2", False),  # repositories are lowercase
        ("redis:7.2@sha256:short", False),
    ],
)
def test_pinned_means_a_valid_reference_with_a_tag_or_digest(image: str, pinned: bool) -> None:
    assert oci.is_pinned(image) is pinned


def test_a_reference_splits_into_repository_tag_and_digest() -> None:
    ref = oci.parse_image_ref(f"tts.azurecr.io:443/thethingsstack:3.32.0@sha256:{'b' * 64}")
    assert (ref.repository, ref.tag, ref.digest) == (
        "tts.azurecr.io:443/thethingsstack", "3.32.0", "sha256:" + "b" * 64,
    )  # fmt: skip
    assert str(ref) == f"tts.azurecr.io:443/thethingsstack:3.32.0@sha256:{'b' * 64}"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("tts.azurecr.io/thethingsstack", "is not pinned"),
        ("tts.azurecr.io/thethingsstack:latest", "is not pinned"),
        ("https://tts.azurecr.io/t:1", "is not a valid reference"),
    ],
)
def test_parse_image_ref_rejects(ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        oci.parse_image_ref(ref)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("redis:7.2.11-alpine", ("redis", "7.2.11-alpine", None)),
        ("tts-ci/smoke:local", ("tts-ci/smoke", "local", None)),
        (
            f"tts.azurecr.io/thethingsstack@{DIGEST}",
            ("tts.azurecr.io/thethingsstack", None, DIGEST),
        ),
        (f"localhost:5000/a/b_c:v1@{DIGEST}", ("localhost:5000/a/b_c", "v1", DIGEST)),
        (f"kindest/node:latest@{DIGEST}", ("kindest/node", "latest", DIGEST)),
    ],
)
def test_parse_image_ref_round_trips(
    ref: str, expected: tuple[str, str | None, str | None]
) -> None:
    parsed = oci.parse_image_ref(ref)
    assert (parsed.repository, parsed.tag, parsed.digest) == expected
    assert str(parsed) == ref


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("tts.azurecr.io/thethingsstack", "is not pinned: add a version tag or @sha256"),
        ("redis:latest", "is not pinned"),
        ("", "is not a valid reference"),
        ("Tts/Stack:1", "is not a valid reference"),
        ("tts:1 ", "is not a valid reference"),
        ("tts@sha256:abc", "is not a valid reference"),
        ("tts@sha256:" + "A" * 64, "is not a valid reference"),
        ("tts:-bad", "is not a valid reference"),
        ("https://tts.azurecr.io/t:1", "is not a valid reference"),
    ],
)
def test_parse_image_ref_rejects_malformed(ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        oci.parse_image_ref(ref)
