"""The application side of the device probe: The Things Stack's MQTT server (aiomqtt).

The Application Server's MQTT (v3.32.0, pkg/applicationserver/io/mqtt) takes the
application ID as user name and an application API key as password, publishes each uplink
on ``v3/{app}/devices/{dev}/up`` and takes downlinks on ``v3/{app}/devices/{dev}/down/push``
(JSON as in the HTTP API). On the open-source build the topic's application part is the bare
application ID; on a multi-tenant one it is ``{app}@{tenant}``, which the caller passes.
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, Final

import aiomqtt
import anyio

from pipelines.smoke.capped import json_object
from pipelines.smoke.polling import ProbeFailure

# CONNACK codes of a refused login: MQTT 3.1.1 (4, 5) and MQTT 5 (134, 135).
REFUSED_CODES: Final = {
    4: "bad user name or password",
    5: "not authorized",
    134: "bad user name or password",
    135: "not authorized",
}
MAX_MESSAGE: Final = 64 * 1024


class AppMqtt:
    """One connection as the probe's application: its device's uplinks in, downlinks out."""

    def __init__(self, client: aiomqtt.Client, app_uid: str, device_id: str, where: str):
        self.client, self.where = client, where
        self.topic = f"v3/{app_uid}/devices/{device_id}"

    async def uplink(self, f_cnt: int) -> tuple[bytes, dict[str, Any]]:
        """The FRMPayload of uplink `f_cnt` as the Application Server published it."""
        try:
            async for message in self.client.messages:
                found = _uplink(message, f_cnt)
                if found is not None:
                    return found
        except aiomqtt.MqttError as err:
            raise ProbeFailure(f"MQTT at {self.where} failed: {err}") from None
        raise ProbeFailure(f"MQTT at {self.where} closed the connection")

    async def push_downlink(self, f_port: int, payload: bytes) -> None:
        body = {"downlinks": [{"f_port": f_port, "frm_payload": base64.b64encode(payload).decode(),
                               "priority": "NORMAL"}]}  # fmt: skip
        try:
            await self.client.publish(f"{self.topic}/down/push", json.dumps(body), qos=1)
        except aiomqtt.MqttError as err:
            raise ProbeFailure(f"MQTT at {self.where} took no downlink: {err}") from None


def _uplink(message: aiomqtt.Message, f_cnt: int) -> tuple[bytes, dict[str, Any]] | None:
    """(FRMPayload, uplink_message) when `message` is uplink `f_cnt`; None for another one."""
    raw = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
    if len(raw) > MAX_MESSAGE:
        raise ProbeFailure(f"MQTT message on {message.topic} exceeds 64 KiB")
    uplink = json_object(raw, f"MQTT message on {message.topic}").get("uplink_message")
    if not isinstance(uplink, dict) or uplink.get("f_cnt", 0) != f_cnt:
        return None  # another uplink (an earlier attempt's) or no uplink at all
    try:
        payload = base64.b64decode(str(uplink.get("frm_payload", "")), validate=True)
    except (binascii.Error, ValueError):
        raise ProbeFailure(f"uplink FCnt {f_cnt} on MQTT: frm_payload is not base64") from None
    return payload, uplink


def refusal(err: aiomqtt.MqttError, where: str) -> ProbeFailure:
    """A readable failure; a refused key is final (asking again cannot help)."""
    code = getattr(err, "rc", None)
    value = getattr(code, "value", code)
    if isinstance(value, int) and value in REFUSED_CODES:
        return ProbeFailure(
            f"MQTT at {where} refused the probe application's API key ({REFUSED_CODES[value]})",
            final=True,
        )
    return ProbeFailure(f"MQTT at {where}: {err}")


@asynccontextmanager
async def connected(
    host: str, port: int, app_uid: str, api_key: str, device_id: str,
    tls: ssl.SSLContext | None,
) -> AsyncIterator[AppMqtt]:  # fmt: skip
    """Connected and subscribed to the device's uplinks, until the block ends."""
    where = f"{host}:{port}"
    client = aiomqtt.Client(host, port, username=app_uid, password=api_key, tls_context=tls,
                            timeout=5, max_queued_incoming_messages=100)  # fmt: skip
    try:
        await client.__aenter__()
    except aiomqtt.MqttError as err:
        raise refusal(err, where) from None
    try:
        app = AppMqtt(client, app_uid, device_id, where)
        await client.subscribe(f"{app.topic}/up", qos=0)
        yield app
    finally:
        # Already gone (MqttError): nothing to close.
        with anyio.CancelScope(shield=True), anyio.move_on_after(5), suppress(aiomqtt.MqttError):
            await client.__aexit__(None, None, None)
