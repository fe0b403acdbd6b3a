"""GitHub OIDC, Entra federation, the ACR token exchange and the ARM image import, run with
the real clients over real sockets against tests/azure_models.py: local models of the
documented GitHub, Entra, ACR and ARM protocols (Azure and GitHub cannot be reached here)."""

import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines import acr, azure_auth
from tests.azure_models import Acr, Arm, Entra, GitHubOidc, serve
from tests.support.tls import self_signed_tls

pytestmark = pytest.mark.anyio

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
SUBSCRIPTION = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
REQUEST_TOKEN = "runner-request-token-secret"  # noqa: S105 (a made-up test value)
LOGIN = "ttsregistry.azurecr.io"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp (the models and azure's transport) needs asyncio


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    return self_signed_tls(tmp_path)


@pytest.fixture
async def github() -> AsyncIterator[tuple[GitHubOidc, str]]:
    model = GitHubOidc(REQUEST_TOKEN)
    async with serve(model.app()) as base:
        # The runner's URL already carries a query string.
        yield model, f"{base}/idtoken?api-version=2.0"


def az_json(token: str, *, tenant: str = TENANT, lifetime: int = 3600) -> str:
    """What `az account get-access-token -o json` prints (Azure CLI >= 2.54)."""
    expires = int(time.time()) + lifetime
    return json.dumps(
        {
            "accessToken": token,
            "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(expires)),
            "expires_on": expires,
            "subscription": SUBSCRIPTION,
            "tenant": tenant,
            "tokenType": "Bearer",
        }
    )


async def test_github_token_is_requested_with_bearer_and_audience(
    github: tuple[GitHubOidc, str],
) -> None:
    model, url = github
    assert await azure_auth.github_oidc_token(url, REQUEST_TOKEN) == "github-jwt-1"
    assert model.audiences == ["api://AzureADTokenExchange"]


async def test_github_refusal_does_not_leak_the_request_token(
    github: tuple[GitHubOidc, str],
) -> None:
    _, url = github
    with pytest.raises(RuntimeError, match=r"HTTP 401.*id-token: write") as caught:
        await azure_auth.github_oidc_token(url, "wrong-token")
    assert "wrong-token" not in str(caught.value)


async def test_oidc_credential_presents_a_fresh_github_token_to_entra(
    github: tuple[GitHubOidc, str], tls: tuple[Path, ssl.SSLContext]
) -> None:
    model, url = github
    ca_file, server_tls = tls
    entra = Entra(TENANT, CLIENT)
    async with serve(entra.app(), server_tls) as entra_url:
        cred = azure_auth.credential(
            TENANT,
            CLIENT,
            oidc_request_url=url,
            oidc_request_token=REQUEST_TOKEN,
            authority=entra_url,
            ca_bundle=str(ca_file),
        )
        async with cred:
            arm = await cred.get_token(azure_auth.ARM_SCOPE)
            registry = await cred.get_token(azure_auth.ACR_SCOPE)
            cached = await cred.get_token(azure_auth.ARM_SCOPE)
    assert (arm.token, registry.token, cached.token) == (
        "entra-token-1",
        "entra-token-2",
        "entra-token-1",
    )
    # Each Entra request presents a GitHub token fetched for it, never a reused one (the
    # third call is served from the Entra token cache; its fresh GitHub token goes unused).
    assert model.issued == ["github-jwt-1", "github-jwt-2", "github-jwt-3"]
    assert entra.assertions == ["github-jwt-1", "github-jwt-2"]
    assert model.audiences == ["api://AzureADTokenExchange"] * 3
    assert [s.split()[0] for s in entra.scopes] == [azure_auth.ARM_SCOPE, azure_auth.ACR_SCOPE]


@pytest.fixture
async def registry() -> AsyncIterator[tuple[Acr, str]]:
    model = Acr(LOGIN, TENANT, valid_access_tokens={"entra-acr-token"})
    async with serve(model.app()) as base:
        yield model, base


async def test_exchange_posts_the_documented_form(registry: tuple[Acr, str]) -> None:
    model, base = registry
    refresh = await acr.exchange_refresh_token(LOGIN, TENANT, "entra-acr-token", base_url=base)
    assert refresh == f"acr-refresh-for-{TENANT}"
    assert model.content_types == ["application/x-www-form-urlencoded"]
    assert model.exchanges == [
        {
            "grant_type": "access_token",
            "service": LOGIN,
            "tenant": TENANT,
            "access_token": "entra-acr-token",
        }
    ]


async def test_rejected_token_names_registry_not_token(registry: tuple[Acr, str]) -> None:
    _, base = registry
    with pytest.raises(acr.AcrError, match=rf"^{LOGIN} refused .*HTTP 401") as caught:
        await acr.exchange_refresh_token(LOGIN, TENANT, "stolen-or-stale-token", base_url=base)
    assert "stolen-or-stale-token" not in str(caught.value)
    assert "<redacted>" in str(caught.value)  # the model echoed it; we did not


@dataclass
class Cloud:
    arm: Arm
    acr: Acr
    arm_url: str
    acr_url: str
    ca_bundle: str
    cred: azure_auth.AzureCliTokens


@pytest.fixture
async def cloud(tls: tuple[Path, ssl.SSLContext]) -> AsyncIterator[Cloud]:
    ca_file, server_tls = tls
    registry_model = Acr(LOGIN, TENANT, valid_access_tokens={"cli-acr-token"})
    arm_model = Arm(SUBSCRIPTION, "rg-tts", "ttsregistry", registry_model, bearer="cli-arm-token")
    cred = azure_auth.AzureCliTokens(
        {
            azure_auth.ARM_SCOPE: az_json("cli-arm-token"),
            azure_auth.ACR_SCOPE: az_json("cli-acr-token"),
        },
        TENANT,
    )
    async with (
        serve(arm_model.app(), server_tls) as arm_url,
        serve(registry_model.app(), server_tls) as acr_url,
    ):
        yield Cloud(arm_model, registry_model, arm_url, acr_url, str(ca_file), cred)


async def test_login_server_from_arm(cloud: Cloud) -> None:
    found = await acr.login_server(
        cloud.cred,
        SUBSCRIPTION,
        "rg-tts",
        "ttsregistry",
        base_url=cloud.arm_url,
        ca_bundle=cloud.ca_bundle,
    )
    assert found == LOGIN


async def test_unknown_registry_is_an_arm_error(cloud: Cloud) -> None:
    with pytest.raises(Exception, match="registry not found"):
        await acr.login_server(
            cloud.cred,
            SUBSCRIPTION,
            "rg-tts",
            "otherregistry",
            base_url=cloud.arm_url,
            ca_bundle=cloud.ca_bundle,
        )


async def import_all(cloud: Cloud) -> list[str]:
    return await acr.import_images(
        cloud.cred,
        SUBSCRIPTION,
        "rg-tts",
        "ttsregistry",
        tenant_id=TENANT,
        base_url=cloud.arm_url,
        registry_base_url=cloud.acr_url,
        ca_bundle=cloud.ca_bundle,
    )


async def test_import_copies_missing_images_once(cloud: Cloud) -> None:
    cloud.acr.present.add("library/redis:7.2.11-alpine")  # imported by an earlier run
    refs = await import_all(cloud)
    assert refs == [
        f"{LOGIN}/library/redis:7.2.11-alpine",
        f"{LOGIN}/library/postgres:16.10-alpine",
    ]
    assert cloud.arm.imports == [
        {
            "source": {"registryUri": "docker.io", "sourceImage": "library/postgres:16.10-alpine"},
            "targetTags": ["library/postgres:16.10-alpine"],
            "mode": "NoForce",
        }
    ]
    # A second run finds everything present and imports nothing (idempotent).
    assert await import_all(cloud) == refs
    assert len(cloud.arm.imports) == 1
