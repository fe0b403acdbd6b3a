"""The probe's own gateway in a Things Stack: register it, ask if it is connected, remove it.

A real Things Stack (v3.32) refuses a UDP gateway it does not know, whatever
``gs.require-registered-gateways`` says: the Gateway Server asks the Identity Server for
the gateway and gets PermissionDenied (``no_gateway_rights``). So a probe that must see a
connected gateway first registers one through the HTTP API with an API key. Calls, all under
``/api/v3`` on the HTTP port (api/ttn/lorawan/v3/*.proto, google.api.http bindings):

- ``GET /auth_info``: whose key this is (a user or an organization) and whether it is an admin.
- ``POST /users/{id}/gateways`` (or ``/organizations/{id}/gateways``): create the gateway.
- ``GET /gs/gateways/{id}/connection/stats``: 200 with ``protocol`` while it is connected,
  404 while it is not. Unlike the server-wide gauge on /metrics, this is about our gateway.
- ``DELETE /gateways/{id}/purge`` (admins; frees the ID and the EUI), else
  ``DELETE /gateways/{id}`` (frees the EUI; the ID stays reserved);
- ``POST …/api-keys`` and ``DELETE …/api-keys/{key}``: an entity's API keys (the link key a
  Basic Station presents; an application's key for MQTT).

The API key travels only in the Authorization header; no message here quotes it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

from pipelines.smoke.capped import AnswerError, json_object, read_capped

API: Final = "/api/v3"
# Where the probe finds its API key (or --api-key-file): environment only, never argv.
API_KEY_ENV: Final = "TTS_API_KEY"
MAX_API_BODY: Final = 256 * 1024
# A create may wait on the database; longer than a probe attempt's 2 s.
API_TIMEOUT: Final = 10.0
# Semtech's sample gateway EUI prefix: a probe gateway is recognisable as a test gateway.
PROBE_EUI_PREFIX: Final = bytes.fromhex("AA555A")


class RegistryError(AnswerError):
    """The Things Stack API refused or could not serve a call."""


@dataclass(frozen=True)
class Owner:
    """Who the API key belongs to: the collaborator of the gateway we create."""

    kind: str  # "users" or "organizations": the API path segment
    id: str
    admin: bool


@dataclass(frozen=True)
class ProbeGateway:
    """A gateway this run registered (and must remove)."""

    gateway_id: str
    eui: bytes
    owner: Owner


def gateway_id(eui: bytes) -> str:
    """The ID The Things Stack's console derives from an EUI: ``eui-`` and lowercase hex."""
    return f"eui-{eui.hex()}"


def random_probe_eui() -> bytes:
    """A fresh EUI per run: no clash with a concurrent run, no refusal cached for an old one."""
    return PROBE_EUI_PREFIX + secrets.token_bytes(8 - len(PROBE_EUI_PREFIX))


async def call(
    client: httpx.AsyncClient,
    api_key: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """(status, JSON object) of one API call; non-JSON or oversized answers raise."""
    what = f"{method} {API}{path}"
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    async with client.stream(
        method, API + path, headers=headers, json=body, timeout=API_TIMEOUT
    ) as response:
        raw = await read_capped(response, MAX_API_BODY, what)
    if not raw and response.is_success:
        return response.status_code, {}
    try:
        return response.status_code, json_object(raw, what)
    except AnswerError:
        if response.is_success:
            raise
        raise RegistryError(f"{what} answered {response.status_code}") from None


def refused(what: str, status: int, answer: dict[str, Any]) -> RegistryError:
    message = str(answer.get("message") or "no message")[:300]
    hint = ""
    if status == httpx.codes.UNAUTHORIZED:
        hint = "; the API key is not valid for this Things Stack (TTS_API_KEY / --api-key-file)"
    elif status == httpx.codes.FORBIDDEN:
        hint = "; the API key lacks the rights (create one with all rights)"
    # A client error other than "not there yet" or "slow down" will not change on a retry.
    final = 400 <= status < 500 and status not in (404, 408, 429)  # noqa: PLR2004
    return RegistryError(f"{what} answered {status}: {message}{hint}", final=final)


async def whoami(client: httpx.AsyncClient, api_key: str) -> Owner:
    """The user or organization the API key belongs to."""
    status, answer = await call(client, api_key, "GET", "/auth_info")
    if status != httpx.codes.OK:
        raise refused(f"GET {API}/auth_info", status, answer)
    ids = answer.get("api_key", {}).get("entity_ids", {})
    for kind, key, field in [
        ("users", "user_ids", "user_id"),
        ("organizations", "organization_ids", "organization_id"),
    ]:
        owner = ids.get(key, {}).get(field) if isinstance(ids, dict) else None
        if isinstance(owner, str) and owner:
            return Owner(kind, owner, answer.get("is_admin") is True)
    raise RegistryError(
        "the API key belongs to no user or organization: use a user API key "
        "(ttn-lw-stack is-db create-user-api-key, or the console's personal API keys)",
        final=True,
    )


async def create(
    client: httpx.AsyncClient,
    api_key: str,
    owner: Owner,
    eui: bytes,
    frequency_plan: str,
    *,
    ours_if_exists: bool = False,
) -> ProbeGateway:
    """Create the probe gateway; an existing one with that ID is never taken over.

    `ours_if_exists`: this run already sent this create and lost the answer (a timeout),
    so an existing gateway of this ID is the one it made.
    """
    gateway = ProbeGateway(gateway_id(eui), eui, owner)
    path = f"/{owner.kind}/{owner.id}/gateways"
    entity = owner.kind[:-1]  # "user" or "organization"
    body = {
        "gateway": {
            "ids": {"gateway_id": gateway.gateway_id, "eui": eui.hex().upper()},
            "name": "tts-ci smoke probe",
            "description": "Registered and removed by python -m pipelines.smoke",
            "frequency_plan_ids": [frequency_plan],
            "enforce_duty_cycle": True,
        },
        "collaborator": {f"{entity}_ids": {f"{entity}_id": owner.id}},
    }
    status, answer = await call(client, api_key, "POST", path, body)
    if status == httpx.codes.CONFLICT:
        if ours_if_exists:
            return gateway
        raise RegistryError(
            f"gateway {gateway.gateway_id} (or its EUI) already exists: the probe never "
            "takes over a gateway; pass another --gateway-eui or none (a random one)",
            final=True,
        )
    if not httpx.codes.is_success(status):
        raise refused(f"POST {API}{path}", status, answer)
    return gateway


async def connection(client: httpx.AsyncClient, api_key: str, gateway: ProbeGateway) -> str:
    """How the gateway is connected now; RegistryError while it is not."""
    path = f"/gs/gateways/{gateway.gateway_id}/connection/stats"
    status, answer = await call(client, api_key, "GET", path)
    if status == httpx.codes.NOT_FOUND:
        raise RegistryError(
            f"gateway {gateway.gateway_id} is registered but not connected "
            f"({str(answer.get('message') or 'not connected')[:200]})"
        )
    if status != httpx.codes.OK:
        raise refused(f"GET {API}{path}", status, answer)
    protocol, since = answer.get("protocol"), answer.get("connected_at")
    if protocol != "udp" or not isinstance(since, str) or answer.get("disconnected_at"):
        raise RegistryError(
            f"gateway {gateway.gateway_id} connection stats show no live UDP connection "
            f"(protocol={protocol!r}, connected_at={since!r}, "
            f"disconnected_at={answer.get('disconnected_at')!r})"
        )
    return f"gateway {gateway.gateway_id} connected over udp since {since}"


async def remove(client: httpx.AsyncClient, api_key: str, gateway: ProbeGateway) -> str:
    """Purge the gateway (admins) or delete it; what was done."""
    action, path = "deleted", f"/gateways/{gateway.gateway_id}"
    if gateway.owner.admin:
        action, path = "purged", f"{path}/purge"
    await checked(client, api_key, "DELETE", path)
    return f"gateway {gateway.gateway_id} {action}"


async def checked(
    client: httpx.AsyncClient,
    api_key: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON answer of a call that must succeed; a refusal raises RegistryError."""
    status, answer = await call(client, api_key, method, path, body)
    if not httpx.codes.is_success(status):
        raise refused(f"{method} {API}{path}", status, answer)
    return answer


async def delete(client: httpx.AsyncClient, api_key: str, path: str) -> None:
    """DELETE `path`; one already gone (404) counts as removed."""
    status, answer = await call(client, api_key, "DELETE", path)
    if not httpx.codes.is_success(status) and status != httpx.codes.NOT_FOUND:
        raise refused(f"DELETE {API}{path}", status, answer)


async def new_api_key(
    client: httpx.AsyncClient, api_key: str, path: str, name: str, rights: Sequence[str]
) -> tuple[str, str]:
    """(id, key) of an entity's new API key (`path`: …/api-keys) with exactly `rights`: an
    application's for MQTT, a gateway's link key for a Basic Station."""
    answer = await checked(client, api_key, "POST", path, {"name": name, "rights": list(rights)})
    if not isinstance(answer.get("id"), str) or not isinstance(answer.get("key"), str):
        raise RegistryError(f"POST {API}{path} returned no key")
    return answer["id"], answer["key"]
