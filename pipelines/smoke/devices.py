"""The probe's own application and OTAA device in a Things Stack: create them, remove them.

An end device lives in four registries, each with its own part of it (as `ttn-lw-cli
end-devices create` writes it): the Identity Server (its identifiers), the Join Server (its
AppKey), the Network Server (plan, LoRaWAN version, OTAA) and the Application Server.
Calls, all under ``/api/v3`` (api/ttn/lorawan/v3/api.md of v3.32.0):

- ``POST /{users|organizations}/{id}/applications``; ``POST /applications/{app}/api-keys``
  (the key MQTT takes: traffic read and downlink write, nothing else);
- ``POST /applications/{app}/devices``, then ``PUT /{js,ns,as}/applications/{app}/devices/{dev}``
  with a field mask;
- removal in reverse: ``DELETE`` the device from AS, NS, JS and IS, the key, then the
  application (``/purge`` for admins, which frees the ID).

Every identifier and key is random per run; no message quotes a key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from pipelines.smoke.registry import Owner, checked, delete, new_api_key

LORAWAN_VERSION: Final = "MAC_V1_0_3"
PHY_VERSION: Final = "PHY_V1_0_3_REV_A"
JOIN_EUI: Final = bytes(8)  # 1.0.x devices commonly use zeros; the Join Server is this one
MQTT_RIGHTS: Final = ("RIGHT_APPLICATION_TRAFFIC_READ", "RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE")


@dataclass(frozen=True)
class ProbeDevice:
    """A device this run creates: its identifiers and root key (the AppKey)."""

    application_id: str
    device_id: str
    dev_eui: bytes
    app_key: bytes = field(repr=False)
    join_eui: bytes = JOIN_EUI

    @classmethod
    def random(cls) -> ProbeDevice:
        suffix = secrets.token_hex(4)
        return cls(f"tts-ci-probe-{suffix}", f"probe-{suffix}", secrets.token_bytes(8),
                   secrets.token_bytes(16))  # fmt: skip

    @property
    def ids(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "application_ids": {"application_id": self.application_id},
            "dev_eui": self.dev_eui.hex().upper(),
            "join_eui": self.join_eui.hex().upper(),
        }


@dataclass
class Created:
    """What exists so far, so removal undoes exactly that, also after a partial create."""

    application: bool = False
    key_id: str | None = None
    registries: list[str] = field(default_factory=list)  # "is", "js", "ns", "as"
    mqtt_key: str | None = field(default=None, repr=False)

    @property
    def anything(self) -> bool:
        return self.application or self.key_id is not None or bool(self.registries)


async def create(
    client: httpx.AsyncClient,
    key: str,
    owner: Owner,
    device: ProbeDevice,
    frequency_plan: str,
    created: Created,
) -> str:
    """Create what is still missing of application, MQTT key and device; what was made."""
    app, dev = device.application_id, device.device_id
    entity = owner.kind[:-1]
    if not created.application:
        body = {
            "application": {"ids": {"application_id": app}, "name": "tts-ci device probe"},
            "collaborator": {f"{entity}_ids": {f"{entity}_id": owner.id}},
        }
        await checked(client, key, "POST", f"/{owner.kind}/{owner.id}/applications", body)
        created.application = True
    if created.key_id is None:
        created.key_id, created.mqtt_key = await new_api_key(
            client, key, f"/applications/{app}/api-keys", "tts-ci probe MQTT", MQTT_RIGHTS
        )
    parts: dict[str, tuple[dict[str, Any], list[str]]] = {
        "js": ({"root_keys": {"app_key": {"key": device.app_key.hex().upper()}}},
               ["root_keys.app_key.key"]),
        "ns": ({"frequency_plan_id": frequency_plan, "lorawan_version": LORAWAN_VERSION,
                "lorawan_phy_version": PHY_VERSION, "supports_join": True},
               ["frequency_plan_id", "lorawan_version", "lorawan_phy_version", "supports_join"]),
        "as": ({}, []),
    }  # fmt: skip
    if "is" not in created.registries:
        body = {"end_device": {"ids": device.ids, "name": "tts-ci probe device"}}
        await checked(client, key, "POST", f"/applications/{app}/devices", body)
        created.registries.append("is")
    for registry, (fields, paths) in parts.items():
        if registry in created.registries:
            continue
        body = {
            "end_device": {"ids": device.ids, **fields},
            "field_mask": {"paths": ["ids.dev_eui", "ids.join_eui", *paths]},
        }
        await checked(client, key, "PUT", f"/{registry}/applications/{app}/devices/{dev}", body)
        created.registries.append(registry)
    return (
        f"application {app}, its MQTT key and OTAA device {dev} (DevEUI "
        f"{device.dev_eui.hex().upper()}, {LORAWAN_VERSION}, plan {frequency_plan}) created"
    )


async def remove(
    client: httpx.AsyncClient, key: str, owner: Owner, device: ProbeDevice, created: Created
) -> str:
    """Remove what `created` lists, device first; a part already gone (404) counts as removed."""
    app, dev = device.application_id, device.device_id
    steps: list[tuple[str, str]] = []
    for registry in ("as", "ns", "js"):
        if registry in created.registries:
            steps.append((registry, f"/{registry}/applications/{app}/devices/{dev}"))
    if "is" in created.registries:
        steps.append(("is", f"/applications/{app}/devices/{dev}"))
    for registry, path in steps:
        await delete(client, key, path)
        created.registries.remove(registry)
    if created.key_id is not None:
        await delete(client, key, f"/applications/{app}/api-keys/{created.key_id}")
        created.key_id = created.mqtt_key = None
    action = "purged" if owner.admin else "deleted"
    if created.application:
        await delete(client, key, f"/applications/{app}{'/purge' if owner.admin else ''}")
        created.application = False
    return f"device {dev}, its MQTT key and application {app} {action}"
