"""Entities registered through the real server's HTTP API, as an operator would.

Every call must answer 200; anything else fails the test with the server's answer.
Devices are LoRaWAN 1.0.3 on EU_863_870_TTN, ABP ones with all three network session keys
set to the given NwkSKey (1.0.x has one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.real_server import Stack

PLAN = "EU_863_870_TTN"
_NWK_KEYS = ("f_nwk_s_int_key", "nwk_s_enc_key", "s_nwk_s_int_key")


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text[:600]
    body: dict[str, Any] = response.json()
    return body


def application(stack: Stack, key: str, app_id: str) -> None:
    ok(stack.api("POST", "/users/admin/applications", key,
                 {"application": {"ids": {"application_id": app_id}}}))  # fmt: skip


def gateway(stack: Stack, key: str, gateway_id: str, eui: str) -> None:
    """A gateway of the admin user on PLAN."""
    ok(stack.api("POST", "/users/admin/gateways", key, {
        "gateway": {"ids": {"gateway_id": gateway_id, "eui": eui.upper()},
                    "frequency_plan_ids": [PLAN]},
        "collaborator": {"user_ids": {"user_id": "admin"}}}))  # fmt: skip


def device(stack: Stack, key: str, app_id: str, device_id: str, dev_eui: str) -> dict[str, Any]:
    """An end device in the Identity Server (with the NS and AS on this server); its ids."""
    ids = {"device_id": device_id, "dev_eui": dev_eui,
           "application_ids": {"application_id": app_id}}  # fmt: skip
    ok(stack.api("POST", f"/applications/{app_id}/devices", key, {"end_device": {
        "ids": ids, "network_server_address": "localhost",
        "application_server_address": "localhost"}}))  # fmt: skip
    return ids


@dataclass(frozen=True)
class AbpSession:
    dev_addr: str
    nwk_s_key: str  # 32 hex digits
    last_f_cnt_up: int = 0
    app_s_key: str = ""  # also give the AS the session (to push downlinks), when set


def abp_session(
    stack: Stack, key: str, ids: dict[str, Any], session: AbpSession, class_c: bool = False
) -> None:
    """The Network Server's (and with app_s_key the Application Server's) ABP session."""
    app_id, device_id = ids["application_ids"]["application_id"], ids["device_id"]
    ns_session = {"dev_addr": session.dev_addr, "last_f_cnt_up": session.last_f_cnt_up,
                  "keys": {k: {"key": session.nwk_s_key} for k in _NWK_KEYS}}  # fmt: skip
    ns = {"ids": ids, "frequency_plan_id": PLAN, "lorawan_version": "MAC_V1_0_3",
          "lorawan_phy_version": "PHY_V1_0_3_REV_A", "supports_join": False,
          "supports_class_c": class_c, "session": ns_session}  # fmt: skip
    paths = ["frequency_plan_id", "lorawan_version", "lorawan_phy_version", "supports_join",
             "supports_class_c", "session.dev_addr", "session.last_f_cnt_up",
             *(f"session.keys.{k}.key" for k in _NWK_KEYS)]  # fmt: skip
    ok(stack.api("PUT", f"/ns/applications/{app_id}/devices/{device_id}", key,
                 {"end_device": ns, "field_mask": {"paths": paths}}))  # fmt: skip
    if session.app_s_key:
        keys = {"app_s_key": {"key": session.app_s_key}}
        as_device = {"ids": ids, "session": {"dev_addr": session.dev_addr, "keys": keys}}
        as_paths = ["session.dev_addr", "session.keys.app_s_key.key"]
        ok(stack.api("PUT", f"/as/applications/{app_id}/devices/{device_id}", key,
                     {"end_device": as_device, "field_mask": {"paths": as_paths}}))  # fmt: skip
