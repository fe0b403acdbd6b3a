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

from pipelines import azure_auth, bicep

from .containers import fresh, run_steps

# Where the azure-cli image keeps its login (your ~/.azure on a laptop).
AZURE_CONFIG_DIR = "/root/.azure"


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

    def _oidc(self) -> tuple[dagger.Secret, dagger.Secret] | None:
        """The GitHub OIDC request URL and token when given (then preferred over az)."""
        self.check()
        if self.oidc_request_url is None or self.oidc_request_token is None:
            return None
        return self.oidc_request_url, self.oidc_request_token

    def _azure_config(self) -> dagger.Directory:
        assert self.azure_config is not None  # check(): no OIDC means a config was given
        return self.azure_config

    async def credential(self, scopes: Sequence[str]) -> AsyncTokenCredential:
        """A credential for `scopes` (the caller closes it)."""
        oidc = self._oidc()
        if oidc is not None:
            url, token = oidc
            return azure_auth.credential(
                self.tenant_id,
                self.client_id,
                oidc_request_url=await url.plaintext(),
                oidc_request_token=await token.plaintext(),
                az_tokens=None,
            )
        az = fresh(dag.container().from_(bicep.AZURE_CLI_IMAGE)).with_directory(
            AZURE_CONFIG_DIR, self._azure_config()
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

    async def signed_in_az(self, az: dagger.Container) -> dagger.Container:
        """An azure-cli container signed in: a federated login, or the mounted ~/.azure."""
        oidc = self._oidc()
        if oidc is None:
            return az.with_directory(AZURE_CONFIG_DIR, self._azure_config())
        url, token = oidc
        jwt = await azure_auth.github_oidc_token(await url.plaintext(), await token.plaintext())
        az = az.with_secret_variable("AZURE_FEDERATED_TOKEN", dag.set_secret("gh-oidc", jwt))
        argv = bicep.az_login_federated_argv(self.tenant_id, self.client_id)
        az, _ = await run_steps(az, [argv], "az login")
        return az
