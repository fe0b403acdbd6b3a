"""ACR names, the imported images and input checks that run before any network call."""

from pathlib import Path

import pytest

from pipelines import acr


@pytest.mark.parametrize("name", ["ttsci", "TtsRegistry01", "a" * 50])
def test_valid_registry_names(name: str) -> None:
    assert acr.check_registry_name(name) == name


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("tts", "5-50 letters or digits"),
        ("a" * 51, "5-50 letters or digits"),
        ("tts-registry", "5-50 letters or digits"),
        ("tts_registry", "5-50 letters or digits"),
        ("", "5-50 letters or digits"),
        (
            "ttsregistry.azurecr.io",
            r"looks like a login server: pass the registry name \('ttsregistry'\)",
        ),
        ("https://ttsregistry.azurecr.io", r"pass the registry name \('ttsregistry'\)"),
    ],
)
def test_invalid_registry_names(name: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        acr.check_registry_name(name)


def test_imported_images_are_the_charts(repo_root: Path) -> None:
    values = repo_root / "charts" / "thethingsstack" / "values.yaml"
    assert acr.chart_images(values) == acr.IMPORTED_IMAGES
    assert [i.target for i in acr.IMPORTED_IMAGES] == [
        "library/redis:7.2.11-alpine",
        "library/postgres:16.10-alpine",
    ]
    assert {i.source_registry for i in acr.IMPORTED_IMAGES} == {"docker.io"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "login", ["https://tts.azurecr.io", "tts.azurecr.io/v2", "tts.azurecr.io:443", ""]
)
async def test_exchange_wants_a_bare_login_server(login: str) -> None:
    with pytest.raises(ValueError, match=r"pass a host name such as myregistry\.azurecr\.io"):
        await acr.exchange_refresh_token(login, "tenant", "token")


@pytest.mark.anyio
async def test_exchange_refuses_plain_http_to_a_remote_host() -> None:
    with pytest.raises(ValueError, match="must be an https:// URL"):
        await acr.exchange_refresh_token(
            "tts.azurecr.io", "tenant", "token", base_url="http://tts.azurecr.io"
        )
