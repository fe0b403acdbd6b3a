"""Azure Container Registry: names, login server, refresh-token exchange, image import.

Protocols (Azure/acr docs/AAD-OAuth.md and the ARM Container Registry API):
- `POST https://<login-server>/oauth2/exchange`, form fields grant_type=access_token,
  service=<login-server>, tenant=<tenant>, access_token=<Entra token for ACR_SCOPE>,
  answers `{"refresh_token": "..."}`: the password for user ACR_USERNAME.
- `POST https://<login-server>/oauth2/token`, grant_type=refresh_token, service, scope
  (e.g. repository:library/redis:pull), refresh_token, answers `{"access_token": "..."}`
  for the registry's /v2 API (used here to see whether an image is already present).
- ARM `registries.get` (login server) and `registries/importImage` (long-running copy of
  a public image into the registry; mode NoForce refuses to overwrite existing tags).
"""

import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import anyio
import httpx
import yaml
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerregistry.aio import ContainerRegistryManagementClient
from azure.mgmt.containerregistry.models import ImportImageParameters, ImportMode, ImportSource

from pipelines import versions
from pipelines.azure_auth import ACR_SCOPE, HTTP_TIMEOUT_SECONDS, require_https

__all__ = [
    "IMPORTED_IMAGES",
    "AcrError",
    "ImportedImage",
    "chart_images",
    "check_registry_name",
    "exchange_refresh_token",
    "import_images",
    "is_login_server",
    "login_server",
]

_REGISTRY_NAME: Final = re.compile(r"[A-Za-z0-9]{5,50}")
# Manifest types a registry may store for a tag (Docker and OCI, single and multi-arch).
_MANIFEST_TYPES: Final = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


class AcrError(RuntimeError):
    """The registry or ARM refused a request; the message names the registry, never a token."""


def check_registry_name(name: str) -> str:
    """`name` if it is a valid ACR name (5-50 letters or digits), else a one-line error."""
    if _REGISTRY_NAME.fullmatch(name):
        return name
    if "." in name:
        short = name.rsplit("//", maxsplit=1)[-1].split(".", maxsplit=1)[0]
        raise ValueError(
            f"{name!r} looks like a login server: pass the registry name ({short!r}), "
            "e.g. --registry from the Bicep output acrName"
        )
    raise ValueError(f"invalid registry name {name!r}: an ACR name has 5-50 letters or digits only")


def is_login_server(host: str) -> bool:
    """True for an ACR login server (Azure public cloud), whose images need this login."""
    return host.lower().endswith(".azurecr.io")


def _check_login_server(login_server: str) -> str:
    if not login_server or "/" in login_server or ":" in login_server:
        raise ValueError(
            f"invalid login server {login_server!r}: pass a host name such as "
            "myregistry.azurecr.io (no scheme, no path)"
        )
    return login_server.lower()


def _client(
    cred: AsyncTokenCredential,
    subscription_id: str,
    base_url: str | None,
    ca_bundle: str | None,
) -> ContainerRegistryManagementClient:
    if not subscription_id.strip():
        raise ValueError("the subscription ID is empty: pass --subscription-id")
    options: dict[str, Any] = {} if ca_bundle is None else {"connection_verify": ca_bundle}
    return ContainerRegistryManagementClient(cred, subscription_id, base_url, **options)


async def login_server(
    cred: AsyncTokenCredential,
    subscription_id: str,
    resource_group: str,
    registry: str,
    *,
    base_url: str | None = None,
    ca_bundle: str | None = None,
) -> str:
    """The registry's login server (e.g. myregistry.azurecr.io), from ARM.

    `base_url` is another ARM endpoint (sovereign clouds), `ca_bundle` a CA file for it.
    """
    check_registry_name(registry)
    async with _client(cred, subscription_id, base_url, ca_bundle) as client:
        found = await client.registries.get(resource_group, registry)
    if not found.login_server:
        raise AcrError(f"ARM returned no login server for registry {registry}")
    return str(found.login_server)


def _acr_error(what: str, login: str, response: httpx.Response, secret: str) -> AcrError:
    hint = {
        httpx.codes.UNAUTHORIZED: "the token was rejected: is it an Entra token for "
        f"{ACR_SCOPE} from the registry's tenant?",
        httpx.codes.FORBIDDEN: "the identity lacks a role on the registry (AcrPush to publish)",
        httpx.codes.NOT_FOUND: "no such registry endpoint: check the login server",
    }.get(httpx.codes(response.status_code), "see the registry's message")
    detail = ""
    try:
        errors = response.json().get("errors") or []
        detail = "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError):
        pass
    # The registry's own message is shown, but never anything that contains the token.
    detail = f" ({detail.replace(secret, '<redacted>')})" if detail else ""
    return AcrError(f"{login} refused the {what} (HTTP {response.status_code}){detail}: {hint}")


def _http(ca_bundle: str | None) -> httpx.AsyncClient:
    verify = ssl.create_default_context(cafile=ca_bundle) if ca_bundle is not None else True
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, verify=verify)


async def _post_form(url: str, form: dict[str, str], ca_bundle: str | None) -> httpx.Response:
    async with _http(ca_bundle) as client:
        return await client.post(url, data=form)


def _registry_url(login: str, base_url: str | None) -> str:
    url = base_url if base_url is not None else f"https://{login}"
    return require_https(url, "the registry URL").rstrip("/")


def _json_field(response: httpx.Response, field: str, login: str) -> str:
    try:
        value = response.json()[field]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str) or not value:
        raise AcrError(f"{login} answered without a {field}")
    return value


async def exchange_refresh_token(
    login_server: str,
    tenant_id: str,
    access_token: str,
    *,
    base_url: str | None = None,
    ca_bundle: str | None = None,
) -> str:
    """Exchange an Entra access token (scope ACR_SCOPE) for an ACR refresh token.

    The refresh token is the registry password for user ACR_USERNAME. `base_url` replaces
    `https://<login_server>` (e.g. a local model of the endpoint in tests).
    """
    login = _check_login_server(login_server)
    if not access_token:
        raise ValueError(f"no Entra access token to exchange at {login}")
    form = {
        "grant_type": "access_token",
        "service": login,
        "tenant": tenant_id,
        "access_token": access_token,
    }
    url = f"{_registry_url(login, base_url)}/oauth2/exchange"
    response = await _post_form(url, form, ca_bundle)
    if response.status_code != httpx.codes.OK:
        raise _acr_error("Entra token exchange", login, response, access_token)
    return _json_field(response, "refresh_token", login)


@dataclass(frozen=True)
class ImportedImage:
    """A public image copied into ACR so that AKS pulls only from the registry."""

    source_registry: str  # e.g. "docker.io"
    repository: str  # e.g. "library/redis" (same path in ACR)
    tag: str

    @property
    def source_image(self) -> str:
        """`repository:tag` in the source registry (ImportSource.source_image)."""
        return f"{self.repository}:{self.tag}"

    @property
    def target(self) -> str:
        """`repository:tag` in ACR (ImportImageParameters.target_tags)."""
        return f"{self.repository}:{self.tag}"


# The chart's Redis and PostgreSQL images (charts/thethingsstack/values.yaml redis.internal
# .image and postgresql.image; a test keeps the two in step). Docker Hub official images
# live under library/; the same path in ACR keeps the chart's repository values simple.
IMPORTED_IMAGES: Final[tuple[ImportedImage, ...]] = tuple(
    ImportedImage("docker.io", f"library/{name}", tag)
    for name, tag in (image.split(":") for image in (versions.REDIS_IMAGE, versions.POSTGRES_IMAGE))
)


def chart_images(values_yaml: Path) -> tuple[ImportedImage, ...]:
    """The Redis and PostgreSQL images a chart values file names (Docker Hub library)."""
    values = yaml.safe_load(values_yaml.read_text())
    images = [values["redis"]["internal"]["image"], values["postgresql"]["image"]]
    return tuple(
        ImportedImage("docker.io", f"library/{i['repository']}", str(i["tag"])) for i in images
    )


async def _is_present(
    registry_url: str, login: str, refresh_token: str, image: ImportedImage, ca: str | None
) -> bool:
    """Whether `image.target` exists in the registry (an ACR pull token, then a manifest HEAD)."""
    form = {
        "grant_type": "refresh_token",
        "service": login,
        "scope": f"repository:{image.repository}:pull",
        "refresh_token": refresh_token,
    }
    response = await _post_form(f"{registry_url}/oauth2/token", form, ca)
    if response.status_code != httpx.codes.OK:
        raise _acr_error("pull token request", login, response, refresh_token)
    token = _json_field(response, "access_token", login)
    headers = {"Authorization": f"Bearer {token}", "Accept": _MANIFEST_TYPES}
    url = f"{registry_url}/v2/{image.repository}/manifests/{image.tag}"
    async with _http(ca) as client:
        head = await client.head(url, headers=headers)
    if head.status_code == httpx.codes.NOT_FOUND:
        return False
    if head.status_code == httpx.codes.OK:
        return True
    raise _acr_error(f"manifest check of {image.target}", login, head, token)


async def import_images(
    cred: AsyncTokenCredential,
    subscription_id: str,
    resource_group: str,
    registry: str,
    images: tuple[ImportedImage, ...] = IMPORTED_IMAGES,
    *,
    tenant_id: str,
    base_url: str | None = None,
    registry_base_url: str | None = None,
    ca_bundle: str | None = None,
) -> list[str]:
    """Copy `images` into the registry unless already there; their refs in ACR, in order.

    Idempotent: tags already in the registry are left alone (NoForce never overwrites a
    tag; an existing tag fails the import, so presence is checked first through the
    registry's /v2 API). Imports run concurrently, each awaiting its ARM operation.
    `tenant_id` is the credential's tenant (sent in the token exchange); `base_url` and
    `registry_base_url` replace the ARM and registry endpoints, `ca_bundle` is a CA file.
    """
    check_registry_name(registry)
    async with _client(cred, subscription_id, base_url, ca_bundle) as client:
        found = await client.registries.get(resource_group, registry)
        if not found.login_server:
            raise AcrError(f"ARM returned no login server for registry {registry}")
        login = found.login_server.lower()
        registry_url = _registry_url(login, registry_base_url)
        entra = await cred.get_token(ACR_SCOPE)
        refresh = await exchange_refresh_token(
            login, tenant_id, entra.token, base_url=registry_url, ca_bundle=ca_bundle
        )

        failures: list[str] = []

        async def one(image: ImportedImage) -> None:
            try:
                if not await _is_present(registry_url, login, refresh, image, ca_bundle):
                    await _import(client, resource_group, registry, image)
            except (AcrError, HttpResponseError, httpx.HTTPError) as error:
                # Collected so that the caller gets one line per image, not an ExceptionGroup.
                message = error.message if isinstance(error, HttpResponseError) else str(error)
                failures.append(f"{image.source_registry}/{image.source_image}: {message}")

        async with anyio.create_task_group() as group:
            for image in images:
                group.start_soon(one, image)
    if failures:
        raise AcrError(f"importing into {registry} failed: " + "; ".join(sorted(failures)))
    return [f"{login}/{image.target}" for image in images]


async def _import(
    client: ContainerRegistryManagementClient,
    resource_group: str,
    registry: str,
    image: ImportedImage,
) -> None:
    params = ImportImageParameters(
        source=ImportSource(registry_uri=image.source_registry, source_image=image.source_image),
        target_tags=[image.target],
        mode=ImportMode.NO_FORCE,
    )
    poller = await client.registries.begin_import_image(resource_group, registry, params)
    await poller.result()
