"""Local models of the GitHub, Entra ID, ARM and ACR endpoints the pipeline talks to.

Azure and GitHub cannot be reached from these machines, so the tests run the real client
code (httpx, azure-identity, azure-mgmt-containerregistry) over real sockets against
these small aiohttp servers. Each models only the DOCUMENTED protocol it stands for:

- GitHubOidc: the Actions ID-token endpoint (actions/toolkit OidcClient): GET the
  runner's URL plus `&audience=...`, header `Authorization: bearer <request token>`,
  answer `{"value": "<JWT>"}`.
- Entra: the v2.0 token endpoint, client-credentials grant with a JWT client assertion
  (`POST /<tenant>/oauth2/v2.0/token`, client_assertion_type
  urn:ietf:params:oauth:client-assertion-type:jwt-bearer), answers access_token/expires_in.
- Acr: Azure/acr docs/AAD-OAuth.md: POST /oauth2/exchange (form grant_type=access_token,
  service, tenant, access_token) -> {"refresh_token"}; POST /oauth2/token (grant_type=
  refresh_token, service, scope, refresh_token) -> {"access_token"}; and the registry v2
  API's manifest HEAD (200 present, 404 unknown).
- Arm: Microsoft.ContainerRegistry registries GET (properties.loginServer) and the
  importImage long-running POST (202 + Location, polled until 200).
- RedisEnterpriseArm: Microsoft.Cache/redisEnterprise databases export, a long-running POST
  (202 + Azure-AsyncOperation, polled InProgress -> Succeeded/Failed) that writes the
  database's snapshot into Azure Storage through the SAS URI it is given.
- KeyVault: the Key Vault keys REST API (7.x) for one EC P-256 key: a request without a
  bearer token gets 401 and the `WWW-Authenticate: Bearer authorization=…, resource=…`
  challenge; GET /keys/<name>[/<version>] answers the JWK (kty EC-HSM, crv, x, y as
  base64url); POST /keys/<name>/<version>/sign with {"alg": "ES256", "value": <base64url
  SHA-256 digest>} answers {"kid", "value": <base64url r||s>}, as the docs describe ES256.

TLS: azure-core refuses to send a bearer token over http, so Entra and ARM are served over
https with a throwaway self-signed certificate for 127.0.0.1 (`cryptography`, already a
dependency of azure-identity), whose file the clients get as their CA bundle.
"""

import asyncio
import base64
import gzip
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from tests.support.tls import LOOPBACK

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@asynccontextmanager
async def serve(app: web.Application, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """Run `app` on a free loopback port; yields its base URL; always stopped."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if tls else 'http'}://{LOOPBACK}:{port}"
    finally:
        await runner.cleanup()


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"errors": [{"code": "DENIED", "message": message}]}, status=status)


@dataclass
class GitHubOidc:
    """The Actions ID-token endpoint; issues a new JWT-like string per request."""

    request_token: str
    issued: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/idtoken", self._token)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token != self.request_token:
            return web.json_response({"message": "bad request token"}, status=401)
        if request.query.get("api-version") != "2.0":  # the runner's own query must survive
            return web.json_response({"message": "api-version missing"}, status=400)
        self.audiences.append(request.query.get("audience", ""))
        self.issued.append(f"github-jwt-{len(self.issued) + 1}")
        return web.json_response({"value": self.issued[-1]})


@dataclass
class Entra:
    """Entra ID's token endpoint for a client assertion (workload identity federation)."""

    tenant_id: str
    client_id: str
    assertions: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/{self.tenant_id}/oauth2/v2.0/token", self._token)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != self.client_id
            or form.get("client_assertion_type") != ASSERTION_TYPE
            or not form.get("client_assertion")
        ):
            return web.json_response({"error": "invalid_request"}, status=400)
        self.assertions.append(str(form["client_assertion"]))
        self.scopes.append(str(form.get("scope")))
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3600,
                "access_token": f"entra-token-{len(self.assertions)}",
            }
        )


@dataclass
class Acr:
    """A registry's token service (AAD-OAuth.md) and the manifest part of its v2 API."""

    login_server: str
    tenant_id: str
    valid_access_tokens: set[str]
    present: set[str] = field(default_factory=set)  # "repository:tag"
    exchanges: list[dict[str, str]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth2/exchange", self._exchange)
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_route("HEAD", "/v2/{repository:.+}/manifests/{tag}", self._manifest)
        return app

    async def _exchange(self, request: web.Request) -> web.Response:
        self.content_types.append(request.content_type)
        if request.content_type != "application/x-www-form-urlencoded":
            return _json_error(400, "form body expected")
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.exchanges.append(form)
        if form.get("grant_type") != "access_token" or form.get("service") != self.login_server:
            return _json_error(400, "bad grant_type or service")
        if form.get("tenant") != self.tenant_id:
            return _json_error(401, "tenant mismatch")
        if form.get("access_token") not in self.valid_access_tokens:
            # Like a careless server, echo the token: the client must not repeat it.
            return _json_error(401, f"token {form.get('access_token')} is not valid")
        return web.json_response({"refresh_token": f"acr-refresh-for-{form['tenant']}"})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("service") != self.login_server
            or form.get("refresh_token") != f"acr-refresh-for-{self.tenant_id}"
        ):
            return _json_error(401, "bad refresh token")
        scope = form.get("scope")
        if not isinstance(scope, str) or not scope.startswith("repository:"):
            return _json_error(400, "bad scope")
        return web.json_response({"access_token": f"acr-access:{scope}"})

    async def _manifest(self, request: web.Request) -> web.Response:
        repository, tag = request.match_info["repository"], request.match_info["tag"]
        if (
            request.headers.get("Authorization")
            != f"Bearer acr-access:repository:{repository}:pull"
        ):
            return web.Response(status=401)
        return web.Response(status=200 if f"{repository}:{tag}" in self.present else 404)


@dataclass
class Arm:
    """Azure Resource Manager for Microsoft.ContainerRegistry: registries GET, importImage."""

    subscription_id: str
    resource_group: str
    registry: str
    acr: Acr
    bearer: str
    imports: list[dict[str, object]] = field(default_factory=list)
    _pending: dict[str, dict[str, object]] = field(default_factory=dict)

    def app(self) -> web.Application:
        base = (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            "/providers/Microsoft.ContainerRegistry/registries/{name}"
        )
        app = web.Application()
        app.router.add_get(base, self._get)
        app.router.add_post(base + "/importImage", self._import)
        app.router.add_get("/operations/{id}", self._operation)
        return app

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.bearer}" and bool(
            request.query.get("api-version")
        )

    async def _get(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": {"code": "AuthenticationFailed"}}, status=401)
        if request.match_info["name"] != self.registry:
            return web.json_response(
                {"error": {"code": "ResourceNotFound", "message": "registry not found"}},
                status=404,
            )
        return web.json_response(
            {
                "id": request.path,
                "name": self.registry,
                "type": "Microsoft.ContainerRegistry/registries",
                "location": "westeurope",
                "sku": {"name": "Standard"},
                "properties": {"loginServer": self.acr.login_server},
            }
        )

    async def _import(self, request: web.Request) -> web.Response:
        if not self._authorized(request) or request.match_info["name"] != self.registry:
            return web.json_response({"error": {"code": "AuthenticationFailed"}}, status=401)
        body = await request.json()
        targets = body.get("targetTags", [])
        if body.get("mode") == "NoForce" and any(t in self.acr.present for t in targets):
            return web.json_response(
                {"error": {"code": "Conflict", "message": "target tag already exists"}},
                status=409,
            )
        operation = str(len(self.imports) + len(self._pending) + 1)
        self._pending[operation] = body
        location = f"{request.scheme}://{request.host}/operations/{operation}"
        return web.Response(status=202, headers={"Location": location, "Retry-After": "0"})

    async def _operation(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.bearer}":
            return web.json_response({"error": {"code": "AuthenticationFailed"}}, status=401)
        body = self._pending.pop(request.match_info["id"], None)
        if body is not None:  # the copy completes on the first poll
            self.imports.append(body)
            self.acr.present.update(body.get("targetTags", []))  # type: ignore[arg-type]
        return web.Response(status=200)


@dataclass
class RedisEnterpriseArm:
    """ARM for one Azure Managed Redis database (Microsoft.Cache/redisEnterprise): its export.

    Azure cannot run here, so this models the DOCUMENTED protocol, nothing more: the REST
    operation Databases - Export (azure-rest-api-specs, example RedisEnterpriseDatabasesExport
    .json): `POST .../redisEnterprise/<cluster>/databases/default/export?api-version=...` with
    `{"sasUri": "<SAS URI for the target directory to export to>"}` answers 202 Accepted and an
    Azure-AsyncOperation URL; polling that answers `{"status": "InProgress"}`, then
    "Succeeded", or "Failed" with an ARM `error`. A token without the export permission gets
    ARM's 403 AuthorizationFailed, an unknown cluster 404 ResourceNotFound.

    Like the service, the export then writes the database's RDB snapshot into that directory
    as a .gz block blob ("Data is exported as a .gz block blob", Azure Managed Redis's import
    and export how-to) with the SAS as its only credential, so the storage emulator accepts the
    write only if the SAS really grants it. The file's name is not documented: EXPORT_FILE is
    a guess.
    """

    EXPORT_FILE = "dump.rdb.gz"
    EXPORT_ACTION = "Microsoft.Cache/redisEnterprise/databases/export/action"
    STORAGE_VERSION = "2025-11-05"  # x-ms-version of the blob write (Blob REST API)

    subscription_id: str
    resource_group: str
    cluster: str
    bearer: str
    rdb: bytes  # the database's snapshot: what a real redis-server wrote
    storage_ca: str  # the storage endpoint's CA bundle
    may_export: bool = True  # False: the identity lacks EXPORT_ACTION
    # Non-empty: the operation fails with this message; `{sasUri}` in it is replaced by the
    # SAS URI, as a careless service might echo it (the client must not repeat it).
    fail_with: str = ""
    requests: int = 0
    sas_uris: list[str] = field(default_factory=list)
    _operations: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _polled: set[str] = field(default_factory=set)

    def app(self) -> web.Application:
        database = (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            "/providers/Microsoft.Cache/redisEnterprise/{cluster}/databases/{database}"
        )
        app = web.Application()
        app.router.add_post(database + "/export", self._export)
        app.router.add_get(
            f"/subscriptions/{self.subscription_id}/providers/Microsoft.Cache/locations"
            "/westeurope/operationsStatus/{id}",
            self._status,
        )
        return app

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.bearer}" and bool(
            request.query.get("api-version")
        )

    async def _export(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self._authorized(request):
            return web.json_response({"error": {"code": "AuthenticationFailed"}}, status=401)
        scope = request.path.removesuffix("/export")
        if not self.may_export:
            return web.json_response(
                {"error": {"code": "AuthorizationFailed", "message": (
                    "The client 'backup' with object id '0000' does not have authorization to "
                    f"perform action '{self.EXPORT_ACTION}' over scope '{scope}' or the scope "
                    "is invalid.")}},
                status=403,
            )  # fmt: skip
        if request.match_info["cluster"] != self.cluster or request.match_info["database"] != (
            "default"
        ):
            return web.json_response(
                {"error": {"code": "ResourceNotFound", "message": f"The Resource '{scope}' was "
                           "not found."}},
                status=404,
            )  # fmt: skip
        sas_uri = (await request.json()).get("sasUri")
        if not isinstance(sas_uri, str) or "?" not in sas_uri:
            return web.json_response({"error": {"code": "InvalidRequestBody"}}, status=400)
        self.sas_uris.append(sas_uri)
        operation = str(len(self.sas_uris))
        self._operations[operation] = asyncio.create_task(self._write(sas_uri))
        status = (
            f"{request.scheme}://{request.host}/subscriptions/{self.subscription_id}/providers"
            f"/Microsoft.Cache/locations/westeurope/operationsStatus/{operation}"
            f"?api-version={request.query['api-version']}"
        )
        return web.Response(status=202, headers={"Azure-AsyncOperation": status})

    async def _write(self, sas_uri: str) -> None:
        """Put the gzipped snapshot into the SAS's directory, with the SAS alone."""
        directory, _, sas = sas_uri.partition("?")
        trust = ssl.create_default_context(cafile=self.storage_ca)
        async with httpx.AsyncClient(verify=trust) as client:
            answer = await client.put(
                f"{directory}/{self.EXPORT_FILE}?{sas}",
                content=gzip.compress(self.rdb),
                headers={"x-ms-blob-type": "BlockBlob", "x-ms-version": self.STORAGE_VERSION},
            )
        if answer.status_code != 201:
            code = answer.headers.get("x-ms-error-code")
            raise RuntimeError(f"the storage account refused the export's write: {code}")

    async def _status(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.headers.get("Authorization") != f"Bearer {self.bearer}":
            return web.json_response({"error": {"code": "AuthenticationFailed"}}, status=401)
        operation = request.match_info["id"]
        task = self._operations.get(operation)
        if task is None:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        body: dict[str, object] = {"id": request.path, "name": operation}
        if operation not in self._polled or not task.done():  # the first poll always waits
            self._polled.add(operation)
            return web.json_response({**body, "status": "InProgress"})
        failure = self.fail_with.replace("{sasUri}", self.sas_uris[int(operation) - 1])
        if task.exception() is not None:
            failure = str(task.exception())
        if failure:
            error = {"code": "ExportFailed", "message": failure}
            return web.json_response({**body, "status": "Failed", "error": error})
        return web.json_response({**body, "status": "Succeeded"})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class KeyVault:
    """One EC P-256 signing key behind Key Vault's keys REST API (see the module docstring)."""

    tenant_id: str
    token: str
    name: str = "image-signing"
    version: str = "0f" * 16
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    base_url: str = ""  # set once served: the challenge names it as the resource
    signed: list[bytes] = field(default_factory=list)  # the digests it was asked to sign
    challenged: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(f"/keys/{self.name}", self._get_key)
        app.router.add_get(f"/keys/{self.name}/{{version}}", self._get_key)
        app.router.add_post(f"/keys/{self.name}/{{version}}/sign", self._sign)
        return app

    def _kid(self) -> str:
        return f"{self.base_url}/keys/{self.name}/{self.version}"

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") == f"Bearer {self.token}":
            return None
        self.challenged += 1
        challenge = (
            f'Bearer authorization="https://login.microsoftonline.com/{self.tenant_id}", '
            f'resource="{self.base_url}"'
        )
        return web.json_response(
            {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer"}},
            status=401,
            headers={"WWW-Authenticate": challenge},
        )

    async def _get_key(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        numbers = self.key.public_key().public_numbers()
        x, y = (_b64url(n.to_bytes(32, "big")) for n in (numbers.x, numbers.y))
        jwk = {
            "kid": self._kid(), "kty": "EC-HSM", "crv": "P-256", "key_ops": ["sign", "verify"],
            "x": x, "y": y,
        }  # fmt: skip
        return web.json_response({"key": jwk, "attributes": {"enabled": True, "exportable": False}})

    async def _sign(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        body = await request.json()
        if request.match_info["version"] != self.version or body.get("alg") != "ES256":
            return web.json_response({"error": {"code": "BadParameter"}}, status=400)
        digest = _unb64url(body["value"])
        self.signed.append(digest)
        r, s = decode_dss_signature(self.key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return web.json_response({"kid": self._kid(), "value": _b64url(raw)})
