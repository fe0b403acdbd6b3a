"""Azure identity for the pipeline: GitHub Actions OIDC or an Azure CLI login.

Two ways to authenticate, both without a stored secret:

- GitHub Actions (job with `permissions: id-token: write`): the runner exposes
  ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN. A GET of that URL with
  `&audience=api://AzureADTokenExchange` and `Authorization: bearer <request token>`
  returns `{"value": "<JWT>"}` (actions/toolkit OidcClient). Entra ID accepts the JWT as a
  client assertion of the federated app registration (`ClientAssertionCredential`).
- A laptop after `az login`: the Dagger module runs `az account get-access-token` (argv below) in
  the Azure CLI container with ~/.azure mounted and hands the JSON here; it becomes a
  credential that serves exactly those tokens until they expire.

Secrets (request token, JWTs, access tokens) never appear in argv, logs or error text.
"""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import anyio
import httpx
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import ClientAssertionCredential

# Entra's documented audience for workload identity federation.
GITHUB_AUDIENCE: Final = "api://AzureADTokenExchange"
# Token scopes: the ACR data plane (for /oauth2/exchange) and Azure Resource Manager.
ACR_SCOPE: Final = "https://containerregistry.azure.net/.default"
ARM_SCOPE: Final = "https://management.azure.com/.default"
STORAGE_SCOPE: Final = "https://storage.azure.com/.default"  # the backups' blob container
# The scopes `az_tokens` must cover for publish (ACR exchange + ARM registry calls).
AZ_SCOPES: Final = (ARM_SCOPE, ACR_SCOPE)
# Registry user name that tells ACR the password is an ACR refresh token (AAD-OAuth.md).
ACR_USERNAME: Final = "00000000-0000-0000-0000-000000000000"

# An access token with less life than this left is treated as expired.
EXPIRY_MARGIN_SECONDS: Final = 60
HTTP_TIMEOUT_SECONDS: Final = 30.0
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "localhost"})

_HOW_TO_AUTHENTICATE: Final = (
    "in GitHub Actions pass --oidc-request-url env://ACTIONS_ID_TOKEN_REQUEST_URL "
    "--oidc-request-token env://ACTIONS_ID_TOKEN_REQUEST_TOKEN (job permission "
    "id-token: write); on a laptop run `az login` and pass --azure-config ~/.azure"
)


def require_https(url: str, what: str) -> str:
    """`url` unless it would send a secret in clear text (http is allowed on loopback only)."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return url
    raise ValueError(f"{what} must be an https:// URL, got scheme {parts.scheme or 'none'!r}")


def oidc_token_url(request_url: str, audience: str = GITHUB_AUDIENCE) -> str:
    """The GitHub token URL with `audience` set (the runner's URL already has a query)."""
    require_https(request_url, "the OIDC request URL")
    return str(httpx.URL(request_url).copy_set_param("audience", audience))


def _oidc_value(response: httpx.Response) -> str:
    if response.status_code != httpx.codes.OK:
        raise RuntimeError(
            f"GitHub refused the OIDC token request (HTTP {response.status_code}): "
            "the job needs `permissions: id-token: write` and a current "
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
        )
    try:
        value = response.json()["value"]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str) or not value:
        raise RuntimeError("GitHub's OIDC token response has no 'value' field")
    return value


def _oidc_headers(request_token: str) -> dict[str, str]:
    if not request_token:
        raise ValueError("the OIDC request token is empty: " + _HOW_TO_AUTHENTICATE)
    return {"Authorization": f"bearer {request_token}", "Accept": "application/json"}


async def github_oidc_token(
    request_url: str, request_token: str, audience: str = GITHUB_AUDIENCE
) -> str:
    """A fresh GitHub Actions OIDC token (a JWT valid for about 5 minutes)."""
    url, headers = oidc_token_url(request_url, audience), _oidc_headers(request_token)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
        return _oidc_value(await client.get(url, headers=headers))


class GitHubFederatedCredential:
    """ClientAssertionCredential fed with a fresh GitHub OIDC token for every Entra request.

    azure-identity 1.27 calls the assertion `func()` synchronously from inside its async
    token request (aio ClientAssertionCredential._request_token), so the callback cannot
    await, and a blocking GET there would stall every task on the event loop. Instead each
    get_token first fetches a new GitHub token asynchronously (GitHub tokens live 5
    minutes, so a long pipeline never presents a stale one) and the callback returns it;
    the lock keeps concurrent requests from swapping assertions. Callers (azure-core's
    bearer policy) cache the Entra token, so this runs about once per scope and hour.
    """

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        request_url: str,
        request_token: str,
        **options: Any,
    ) -> None:
        self._url = oidc_token_url(request_url)
        self._headers = _oidc_headers(request_token)
        self._assertion: str | None = None
        self._lock = anyio.Lock()
        self._inner = ClientAssertionCredential(tenant_id, client_id, self._take, **options)

    def _take(self) -> str:
        assertion, self._assertion = self._assertion, None  # each GitHub token is used once
        if assertion is None:
            raise RuntimeError("no GitHub OIDC token was fetched for this Entra request")
        return assertion

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """An Entra token for `scopes`, federated from a GitHub token fetched just now."""
        async with self._lock:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
                self._assertion = _oidc_value(await client.get(self._url, headers=self._headers))
            try:
                return await self._inner.get_token(
                    *scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae, **kwargs
                )
            finally:
                self._assertion = None

    async def close(self) -> None:
        """Close the Entra client's transport."""
        await self._inner.close()

    async def __aenter__(self) -> "GitHubFederatedCredential":
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()


def az_account_set_argv(subscription_id: str) -> list[str]:
    """`az account set`: the subscription the deployment goes to."""
    return ["az", "account", "set", "--subscription", subscription_id]


def az_login_federated_argv(tenant_id: str, client_id: str) -> list[str]:
    """`az login` as the CI identity with a GitHub OIDC token from $AZURE_FEDERATED_TOKEN.

    The token is expanded by the shell from the environment, so it never appears in argv
    as the pipeline records it.
    """
    return [
        "sh",
        "-c",
        'exec az login --service-principal --username "$1" --tenant "$2" '
        '--federated-token "$AZURE_FEDERATED_TOKEN" --output none',
        "az-login",
        client_id,
        tenant_id,
    ]


def az_access_token_argv(scope: str, tenant_id: str) -> list[str]:
    """`az account get-access-token` for one scope and tenant, as JSON on stdout."""
    if not scope.endswith("/.default"):
        raise ValueError(f"scope {scope!r} must end in /.default, e.g. {ACR_SCOPE}")
    _check_tenant(tenant_id)
    return [
        "az", "account", "get-access-token",
        "--scope", scope, "--tenant", tenant_id, "--output", "json",
    ]  # fmt: skip


def _check_tenant(tenant_id: str) -> None:
    if not tenant_id.strip():
        raise ValueError("the Azure tenant ID is empty: pass --tenant-id (AZURE_TENANT_ID)")


@dataclass(frozen=True, repr=False)
class _CliToken:
    token: str
    expires_on: int


def _parse_az_output(scope: str, text: str, tenant_id: str) -> _CliToken:
    """One `az account get-access-token -o json` document (documented keys: accessToken,
    expiresOn local time, expires_on POSIX since CLI 2.54, subscription, tenant, tokenType)."""
    try:
        doc = json.loads(text)
        token, expires_on = doc["accessToken"], int(doc["expires_on"])
    except (ValueError, KeyError, TypeError):
        # Never echo the text: it holds the token.
        raise ValueError(
            f"the Azure CLI output for {scope} is not `az account get-access-token -o json` "
            "output with accessToken and expires_on (Azure CLI >= 2.54): run `az login`"
        ) from None
    tenant = doc.get("tenant")
    if tenant is not None and str(tenant).lower() != tenant_id.lower():
        raise ValueError(
            f"the Azure CLI token for {scope} is for tenant {tenant}, not {tenant_id}: "
            f"run `az login --tenant {tenant_id}`"
        )
    result = _CliToken(str(token), expires_on)
    _check_fresh(scope, result)
    return result


def _check_fresh(scope: str, token: _CliToken) -> None:
    if token.expires_on - EXPIRY_MARGIN_SECONDS <= time.time():
        when = datetime.fromtimestamp(token.expires_on, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        raise ValueError(f"the Azure CLI token for {scope} expired at {when}: run `az login`")


class AzureCliTokens(AsyncTokenCredential):
    """An AsyncTokenCredential that serves tokens printed by `az account get-access-token`.

    It cannot refresh: a scope it was not given, or an expired token, is a one-line error
    that says to run `az login`.
    """

    def __init__(self, tokens: Mapping[str, str], tenant_id: str) -> None:
        _check_tenant(tenant_id)
        if not tokens:
            raise ValueError("no Azure CLI tokens given: " + _HOW_TO_AUTHENTICATE)
        self._tokens = {s: _parse_az_output(s, text, tenant_id) for s, text in tokens.items()}
        self._tenant_id = tenant_id

    def __repr__(self) -> str:
        return f"AzureCliTokens(scopes={sorted(self._tokens)}, tenant_id={self._tenant_id!r})"

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """The token for exactly one of the scopes given at construction."""
        if tenant_id is not None and tenant_id.lower() != self._tenant_id.lower():
            raise ValueError(
                f"a token for tenant {tenant_id} was requested, the Azure CLI tokens are for "
                f"{self._tenant_id}: run `az login --tenant {tenant_id}`"
            )
        if len(scopes) != 1:
            raise ValueError(f"Azure CLI tokens serve one scope per request, got {len(scopes)}")
        scope = scopes[0]
        token = self._tokens.get(scope)
        if token is None:
            have = ", ".join(sorted(self._tokens))
            argv = " ".join(az_access_token_argv(scope, self._tenant_id))
            raise ValueError(
                f"no Azure CLI token for scope {scope} (have {have}): add the output of `{argv}`"
            )
        _check_fresh(scope, token)
        return AccessToken(token.token, token.expires_on)

    async def close(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> "AzureCliTokens":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()


def credential(
    tenant_id: str,
    client_id: str,
    *,
    oidc_request_url: str | None = None,
    oidc_request_token: str | None = None,
    az_tokens: Mapping[str, str] | None = None,
    authority: str | None = None,
    ca_bundle: str | None = None,
) -> AsyncTokenCredential:
    """The pipeline's Azure credential: GitHub OIDC federation or Azure CLI tokens.

    `az_tokens` maps each scope (see AZ_SCOPES) to the JSON printed by
    `az_access_token_argv(scope, tenant_id)`. `authority` selects another Entra host
    (sovereign clouds); `ca_bundle` a CA file for TLS to it (private CAs, tests).
    """
    _check_tenant(tenant_id)
    oidc_given = oidc_request_url is not None or oidc_request_token is not None
    if oidc_given and az_tokens is not None:
        raise ValueError(
            "both GitHub OIDC and Azure CLI credentials given: pass only one "
            "(--oidc-request-url/--oidc-request-token or --azure-config)"
        )
    if oidc_given:
        if not oidc_request_url or not oidc_request_token:
            missing = "--oidc-request-url" if not oidc_request_url else "--oidc-request-token"
            raise ValueError(f"{missing} is missing: " + _HOW_TO_AUTHENTICATE)
        if not client_id.strip():
            raise ValueError(
                "GitHub OIDC needs the app's client ID: pass --client-id (AZURE_CLIENT_ID)"
            )
        options: dict[str, Any] = {}
        if authority is not None:
            options["authority"] = authority
        if ca_bundle is not None:
            options["connection_verify"] = ca_bundle
        return GitHubFederatedCredential(
            tenant_id, client_id, oidc_request_url, oidc_request_token, **options
        )
    if az_tokens is not None:
        return AzureCliTokens(az_tokens, tenant_id)
    raise ValueError("no Azure identity: " + _HOW_TO_AUTHENTICATE)
