"""Bad input to the Azure credential builders: one-line errors that name the fix and never
contain a secret. (The network side runs in tests/integration/test_acr_exchange.py.)"""

import json
import subprocess
import time
from pathlib import Path

import pytest

from pipelines import azure_auth
from pipelines.azure_auth import ACR_SCOPE, ARM_SCOPE

TENANT = "11111111-2222-3333-4444-555555555555"
SECRET = "eyJ-secret-access-token"  # noqa: S105 (a made-up test value)


def az_json(*, lifetime: int = 3600, tenant: str = TENANT, **drop: bool) -> str:
    doc = {
        "accessToken": SECRET,
        "expiresOn": "2030-01-01 00:00:00.000000",
        "expires_on": int(time.time()) + lifetime,
        "tenant": tenant,
        "tokenType": "Bearer",
    }
    return json.dumps({k: v for k, v in doc.items() if not drop.get(k)})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://runner.example/idtoken?api-version=2.0",
            "https://runner.example/idtoken?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange",
        ),
        (
            "https://runner.example/idtoken",
            "https://runner.example/idtoken?audience=api%3A%2F%2FAzureADTokenExchange",
        ),
        (  # an audience already present is replaced, not duplicated
            "https://runner.example/idtoken?audience=other&api-version=2.0",
            "https://runner.example/idtoken?audience=api%3A%2F%2FAzureADTokenExchange&api-version=2.0",
        ),
    ],
)
def test_oidc_url_gets_the_audience(url: str, expected: str) -> None:
    assert azure_auth.oidc_token_url(url) == expected


def test_oidc_url_must_be_https_except_loopback() -> None:
    with pytest.raises(ValueError, match="must be an https:// URL"):
        azure_auth.oidc_token_url("http://runner.example/idtoken")
    assert azure_auth.oidc_token_url("http://127.0.0.1:8080/t").startswith("http://127.0.0.1")


def test_az_argv_has_scope_and_tenant_and_no_secret() -> None:
    assert azure_auth.az_access_token_argv(ACR_SCOPE, TENANT) == [
        "az", "account", "get-access-token",
        "--scope", ACR_SCOPE, "--tenant", TENANT, "--output", "json",
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"must end in /\.default"):
        azure_auth.az_access_token_argv("https://containerregistry.azure.net", TENANT)
    with pytest.raises(ValueError, match="--tenant-id"):
        azure_auth.az_access_token_argv(ACR_SCOPE, " ")


def test_no_identity_names_both_ways() -> None:
    with pytest.raises(ValueError, match="no Azure identity") as caught:
        azure_auth.credential(TENANT, "client")
    message = str(caught.value)
    for option in ["--oidc-request-url", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "--azure-config"]:
        assert option in message
    assert "az login" in message


def test_half_an_oidc_configuration_names_the_missing_option() -> None:
    with pytest.raises(ValueError, match=r"^--oidc-request-token is missing"):
        azure_auth.credential(TENANT, "client", oidc_request_url="https://runner.example/t")
    with pytest.raises(ValueError, match=r"^--oidc-request-url is missing"):
        azure_auth.credential(TENANT, "client", oidc_request_token=SECRET)


def test_oidc_needs_a_client_id_and_one_method_only() -> None:
    oidc = {"oidc_request_url": "https://runner.example/t", "oidc_request_token": SECRET}
    with pytest.raises(ValueError, match="--client-id"):
        azure_auth.credential(TENANT, "", **oidc)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pass only one"):
        azure_auth.credential(
            TENANT,
            "client",
            az_tokens={ACR_SCOPE: az_json()},
            **oidc,
        )


def test_oidc_gives_the_federated_credential() -> None:
    cred = azure_auth.credential(
        TENANT, "client", oidc_request_url="https://runner.example/t", oidc_request_token=SECRET
    )
    assert isinstance(cred, azure_auth.GitHubFederatedCredential)


@pytest.mark.anyio
async def test_cli_tokens_serve_their_scopes() -> None:
    cred = azure_auth.credential(TENANT, "", az_tokens={ACR_SCOPE: az_json()})
    token = await cred.get_token(ACR_SCOPE)
    assert token.token == SECRET
    assert token.expires_on > time.time()
    with pytest.raises(ValueError, match=r"no Azure CLI token for scope .*management.*az account"):
        await cred.get_token(ARM_SCOPE)
    with pytest.raises(ValueError, match="one scope per request"):
        await cred.get_token(ACR_SCOPE, ARM_SCOPE)
    assert SECRET not in repr(cred)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (az_json(lifetime=-10), r"expired at .*: run `az login`"),
        (az_json(lifetime=30), r"expired at .*: run `az login`"),  # inside the safety margin
        (az_json(tenant="99999999-0000-0000-0000-000000000000"), "az login --tenant " + TENANT),
        (az_json(expires_on=True), "Azure CLI >= 2.54"),
        (az_json(accessToken=True), "accessToken"),
        (f"not json {SECRET}", "is not `az account get-access-token -o json` output"),
    ],
)
def test_bad_cli_tokens_are_refused_without_echoing_them(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error) as caught:
        azure_auth.credential(TENANT, "", az_tokens={ACR_SCOPE: text})
    assert SECRET not in str(caught.value)


def test_federated_login_keeps_the_token_out_of_argv() -> None:
    argv = azure_auth.az_login_federated_argv("tenant", "client")
    assert argv[:2] == ["sh", "-c"]
    assert '"$AZURE_FEDERATED_TOKEN"' in argv[2]
    assert argv[-2:] == ["client", "tenant"]


def test_federated_login_runs_az_with_the_token_from_the_environment(tmp_path: Path) -> None:
    fake_az = tmp_path / "az"
    fake_az.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake_az.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "AZURE_FEDERATED_TOKEN": "jwt-value"}
    argv = azure_auth.az_login_federated_argv("tenant", "client")
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "login", "--service-principal", "--username", "client", "--tenant", "tenant",
        "--federated-token", "jwt-value", "--output", "none",
    ]  # fmt: skip
