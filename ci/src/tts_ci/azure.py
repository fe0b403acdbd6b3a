"""How the Azure-facing functions get an azure-identity credential inside Dagger.

GitHub Actions: the OIDC request URL/token arrive as Secrets and feed a
ClientAssertionCredential that fetches a fresh GitHub token on every use.
Laptop: `az account get-access-token` runs in the pinned azure-cli image against the
mounted ~/.azure, once per scope the function needs (the module has no `az` itself).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import dagger
from azure.core.credentials_async import AsyncTokenCredential
from dagger import dag

from pipelines import azure_auth
from pipelines.bicep import AZURE_CLI_IMAGE

from .containers import run_id


@dataclass(frozen=True)
class AzureLogin:
    """The Azure authentication arguments every Azure-facing function takes."""

    tenant_id: str
    client_id: str
    oidc_request_url: dagger.Secret | None
    oidc_request_token: dagger.Secret | None
    azure_config: dagger.Directory | None

    def check(self) -> None:
        """Fail before any work when neither way to authenticate was given."""
        has_oidc = self.oidc_request_url is not None and self.oidc_request_token is not None
        if not has_oidc and self.azure_config is None:
            raise ValueError(
                "no Azure login: in GitHub Actions pass --oidc-request-url "
                "env://ACTIONS_ID_TOKEN_REQUEST_URL --oidc-request-token "
                "env://ACTIONS_ID_TOKEN_REQUEST_TOKEN (job permission id-token: write); "
                "on a laptop run `az login` and pass --azure-config ~/.azure"
            )

    async def credential(self, scopes: Sequence[str]) -> AsyncTokenCredential:
        """A credential for `scopes` (the caller closes it)."""
        self.check()
        if self.oidc_request_url is not None and self.oidc_request_token is not None:
            return azure_auth.credential(
                self.tenant_id,
                self.client_id,
                oidc_request_url=await self.oidc_request_url.plaintext(),
                oidc_request_token=await self.oidc_request_token.plaintext(),
                az_tokens=None,
            )
        assert self.azure_config is not None  # check() above
        az = (
            dag.container()
            .from_(AZURE_CLI_IMAGE)
            .with_directory("/root/.azure", self.azure_config)
            .with_env_variable("TTS_CI_RUN", run_id())
        )
        tokens = {
            scope: await az.with_exec(
                azure_auth.az_access_token_argv(scope, self.tenant_id)
            ).stdout()
            for scope in scopes
        }
        return azure_auth.credential(
            self.tenant_id,
            self.client_id,
            oidc_request_url=None,
            oidc_request_token=None,
            az_tokens=tokens,
        )
