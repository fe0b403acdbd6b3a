"""The CLI surface of tts-ci: one Dagger function per product step.

This layer stays thin: argument parsing and container plumbing only. The steps
themselves (command lists, probes, Azure auth) live in the plain `pipelines`
package so the test suite can run them without an engine.

Dagger kebab-cases names and splits digits: `test_e2e` is `dagger call test-e-2-e`.
"""

from collections.abc import Callable
from typing import Annotated, Any, NoReturn, TypeVar

import dagger
from dagger import DefaultPath, Doc, Ignore, function, object_type

from pipelines import versions
from pipelines.dagger_names import cli_name

F = TypeVar("F", bound=Callable[..., Any])

# Paths of this repository that no function reads; kept out of the upload.
SOURCE_IGNORE = [".git", ".venv", ".tools", "build", "**/__pycache__", "**/.*_cache"]


def uncached(func: F) -> F:
    """A Dagger function never served from the 7-day function cache.

    For functions that publish, deploy, test or look at moving refs: a cached
    result would report success for work that did not happen again.
    """
    # dagger-io 0.21.11 accepts `cache=` at runtime, but its typing overloads omit it.
    return function(cache="never")(func)  # type: ignore[call-overload,no-any-return]


def not_implemented(python_name: str, issue: int) -> NoReturn:
    """Fail loudly for a declared function whose implementation has not landed."""
    raise NotImplementedError(
        f"`dagger call {cli_name(python_name)}` is declared but not implemented yet "
        f"(tracked in issue #{issue}); nothing was built, pushed or deployed."
    )


# How Azure-facing functions authenticate (azure-identity), in the order tried:
# GitHub Actions OIDC (ClientAssertionCredential fed a fresh GitHub token on every
# call; GitHub tokens live 5 minutes), else the Azure CLI login in `azure_config`.
TenantId = Annotated[str, Doc("Entra tenant id (Bicep output tenantId)")]
ClientId = Annotated[str, Doc("Client id of the CI identity (Bicep output githubActionsClientId)")]
OidcRequestUrl = Annotated[
    dagger.Secret | None,
    Doc("GitHub Actions: env://ACTIONS_ID_TOKEN_REQUEST_URL, for OIDC federation"),
]
OidcRequestToken = Annotated[
    dagger.Secret | None,
    Doc("GitHub Actions: env://ACTIONS_ID_TOKEN_REQUEST_TOKEN, for OIDC federation"),
]
AzureConfig = Annotated[
    dagger.Directory | None,
    Doc("Laptop: your ~/.azure directory, to reuse an `az login` session"),
]

Version = Annotated[
    str,
    Doc("The Things Stack release to use, e.g. 3.32.0 (a release tag without the leading v)"),
]


@object_type
class TtsCi:
    """Build, scan, publish, chart-check, kind-test and deploy The Things Stack on Azure."""

    source: Annotated[
        dagger.Directory,
        DefaultPath("/"),
        Ignore(SOURCE_IGNORE),
        Doc("This repository (chart, Dockerfile.tts, bicep/); defaults to the module checkout"),
    ]

    @function
    async def build(
        self,
        version: Version = versions.TTS_VERSION,
        tts_source: Annotated[
            dagger.Directory | None,
            Doc("A lorawan-stack source tree to build instead of the release `version`"),
        ] = None,
    ) -> dagger.Container:
        """Build the TTS container image from source (Go, console assets, runtime)."""
        not_implemented("build", 5)

    @uncached
    async def scan(
        self,
        version: Version = versions.TTS_VERSION,
        severity: Annotated[str, Doc("Severities that fail the gate")] = "HIGH,CRITICAL",
        ignore_unfixed: Annotated[bool, Doc("Gate only on findings that have a fix")] = True,
        ignorefile: Annotated[dagger.File | None, Doc("A .trivyignore of accepted CVEs")] = None,
    ) -> dagger.Directory:
        """Scan the built image with Trivy; return SARIF + table reports, fail on the gate."""
        not_implemented("scan", 5)

    @uncached
    async def publish(
        self,
        registry: Annotated[str, Doc("Azure Container Registry name, e.g. ttsprodacr")],
        resource_group: Annotated[str, Doc("Resource group of the registry")],
        subscription_id: Annotated[str, Doc("Azure subscription id of the registry")],
        tenant_id: TenantId,
        client_id: ClientId,
        oidc_request_url: OidcRequestUrl = None,
        oidc_request_token: OidcRequestToken = None,
        azure_config: AzureConfig = None,
        version: Version = versions.TTS_VERSION,
    ) -> str:
        """Scan-gate, then push the image to ACR as <version> and <version>-<sha>; print digest."""
        not_implemented("publish", 5)

    @function
    async def lint_chart(self) -> str:
        """Run helm lint --strict and schema validation for every values profile."""
        not_implemented("lint_chart", 3)

    @function
    async def template_chart(
        self,
        profile: Annotated[str, Doc("Values profile: default, kind or aks")] = "kind",
    ) -> dagger.Directory:
        """Render the chart for a values profile; return the manifests."""
        not_implemented("template_chart", 3)

    @uncached
    async def test_e2e(
        self,
        version: Version = versions.TTS_VERSION,
        deadline: Annotated[int, Doc("Seconds to wait for rollout and smoke probes")] = 600,
    ) -> str:
        """Prove the chart on a throw-away kind cluster: healthz, UDP 1700 acks, gateway up."""
        not_implemented("test_e2e", 5)

    @uncached
    async def deploy(
        self,
        cluster: Annotated[str, Doc("AKS cluster name")],
        resource_group: Annotated[str, Doc("Resource group of the cluster")],
        image: Annotated[str, Doc("Image reference by digest, as printed by publish")],
        subscription_id: Annotated[str, Doc("Azure subscription id of the cluster")],
        tenant_id: TenantId,
        client_id: ClientId,
        oidc_request_url: OidcRequestUrl = None,
        oidc_request_token: OidcRequestToken = None,
        azure_config: AzureConfig = None,
        namespace: Annotated[str, Doc("Kubernetes namespace")] = "tts",
    ) -> str:
        """helm upgrade --install --atomic to AKS, then smoke-probe; roll back on failure."""
        not_implemented("deploy", 5)

    @uncached
    async def nightly(
        self,
        registry: Annotated[str, Doc("Azure Container Registry name")],
        resource_group: Annotated[str, Doc("Resource group of the registry")],
        subscription_id: Annotated[str, Doc("Azure subscription id of the registry")],
        tenant_id: TenantId,
        client_id: ClientId,
        oidc_request_url: OidcRequestUrl = None,
        oidc_request_token: OidcRequestToken = None,
        azure_config: AzureConfig = None,
    ) -> str:
        """Rebuild, scan and publish the newest upstream TTS release; report what changed."""
        not_implemented("nightly", 5)

    @uncached
    async def provision(
        self,
        resource_group: Annotated[str, Doc("Target resource group")],
        subscription_id: Annotated[str, Doc("Azure subscription id")],
        tenant_id: TenantId,
        client_id: ClientId,
        oidc_request_url: OidcRequestUrl = None,
        oidc_request_token: OidcRequestToken = None,
        azure_config: AzureConfig = None,
        environment: Annotated[str, Doc("Parameter set: dev or prod")] = "dev",
        what_if: Annotated[bool, Doc("Only preview the changes (az deployment what-if)")] = True,
    ) -> str:
        """Deploy bicep/main.bicep (AKS Automatic and friends); print the chart's next values."""
        not_implemented("provision", 6)

    @function
    async def lint_bicep(self) -> str:
        """Run bicep build and bicep lint over bicep/."""
        not_implemented("lint_bicep", 6)
