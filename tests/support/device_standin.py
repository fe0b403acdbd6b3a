"""The device side of the protocol stand-in: applications and OTAA devices in the API, the
Join Server's JoinAccept, the Application Server's MQTT, the Network Server's downlinks, and
the faults a broken network shows the device probe (`--device-fault`).

The reference is the real server (tests/realserver runs the device probe against a real
ttn-lw-stack); what is modelled here was seen there:

- the API calls of pipelines/smoke/devices.py answer 200 (the key an application key);
- a JoinRequest from a registered DevEUI with a valid MIC gets a JoinAccept in RX1 (5 s);
- a data uplink is published, decrypted, on ``v3/{app}/devices/{dev}/up`` of the MQTT
  broker (a real mosquitto, tests/support/servers.py), and a downlink pushed on
  ``…/down/push`` goes out in RX1 of the device's next uplink;
- the PULL_RESP goes to the address of the gateway's last PULL_DATA (its downlink path).

Faults: ``join-mic`` (a JoinAccept that does not verify), ``join-window`` (one timed 7 s
after the JoinRequest, past RX2), ``no-join`` (none at all),
``no-mqtt-uplink`` (uplinks never published), ``downlink-mic`` (the queued downlink with a
broken MIC), ``downlink-fcnt`` (a MAC-only downlink with FCnt 7, then the queued one with
FCnt 3: the counter goes back).
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from pipelines.smoke.lorawan import UP, Session, cmac4, payload_cipher
from tests.support import lorawan
from tests.support.servers import LOOPBACK

FAULTS = ("none", "join-mic", "join-window", "no-join", "no-mqtt-uplink", "downlink-mic",
          "downlink-fcnt")  # fmt: skip
JOIN_DELAY_US, MIC_SIZE = 5_000_000, 4
SendDown = Callable[[bytes, int], Awaitable[None]]  # (PHYPayload, tmst)


@dataclass
class Device:
    application_id: str
    device_id: str
    dev_eui: bytes
    app_key: bytes | None = None
    session: Session | None = None
    f_cnt_down: int = 0
    queued: list[tuple[int, bytes]] = field(default_factory=list)


@dataclass
class DeviceNetwork:
    fault: str = "none"
    mqtt_port: int | None = None
    devices: dict[tuple[str, str], Device] = field(default_factory=dict)
    mqtt: aiomqtt.Client | None = None

    def api(self, method: str, parts: list[str], body: bytes) -> tuple[int, dict[str, Any]] | None:
        """A device route's answer; None for any other route."""
        if method == "POST" and parts[2:] == ["applications"]:
            return 200, json.loads(body)["application"]
        if method == "POST" and parts[0] == "applications" and parts[2:] == ["api-keys"]:
            key_id = secrets.token_hex(8).upper()
            return 200, {"id": key_id, "key": f"NNSXS.{key_id}.{secrets.token_hex(16).upper()}"}
        if method == "POST" and parts[0] == "applications" and parts[2:] == ["devices"]:
            ids = json.loads(body)["end_device"]["ids"]
            device = Device(parts[1], ids["device_id"], bytes.fromhex(ids["dev_eui"]))
            self.devices[(parts[1], ids["device_id"])] = device
            return 200, {"ids": ids}
        if method == "PUT" and parts[0] in ("js", "ns", "as") and parts[1] == "applications":
            device = self.devices[(parts[2], parts[4])]
            if parts[0] == "js":
                key = json.loads(body)["end_device"]["root_keys"]["app_key"]["key"]
                device.app_key = bytes.fromhex(key)
            return 200, json.loads(body)["end_device"]
        if method == "DELETE" and ("applications" in parts[:2]):
            if parts[0] == "applications" and parts[2:3] == ["devices"]:
                self.devices.pop((parts[1], parts[3]), None)
            return 200, {}
        return None

    async def run_mqtt(self) -> None:
        """As the Application Server: publish uplinks, take pushed downlinks."""
        if self.mqtt_port is None:
            return
        async with aiomqtt.Client(LOOPBACK, self.mqtt_port, identifier="standin-as") as client:
            self.mqtt = client
            await client.subscribe("v3/+/devices/+/down/push")
            async for message in client.messages:
                _, app, _, dev, _, _ = str(message.topic).split("/")
                assert isinstance(message.payload, bytes | str)
                for down in json.loads(message.payload)["downlinks"]:
                    payload = base64.b64decode(down["frm_payload"])
                    self.devices[(app, dev)].queued.append((down["f_port"], payload))

    async def uplink(self, phy: bytes, tmst: int, send_down: SendDown) -> None:
        """A frame the gateway heard."""
        if phy[:1] == b"\x00" and len(phy) == 23:
            await self._join(phy, tmst, send_down)
        elif phy[:1] == b"\x40" and len(phy) >= 12:
            await self._data(phy, tmst, send_down)

    async def _join(self, phy: bytes, tmst: int, send_down: SendDown) -> None:
        dev_eui, (nonce,) = phy[9:17][::-1], struct.unpack("<H", phy[17:19])
        device = next((d for d in self.devices.values() if d.dev_eui == dev_eui), None)
        if device is None or device.app_key is None or self.fault == "no-join":
            return
        if cmac4(device.app_key, phy[:-MIC_SIZE]) != phy[-MIC_SIZE:]:
            return  # the Join Server drops a JoinRequest whose MIC fails
        accept, device.session = lorawan.join_accept(
            device.app_key, nonce, 0x26000000 | secrets.randbits(24)
        )
        if self.fault == "join-mic":
            accept = accept[:-1] + bytes([accept[-1] ^ 0xFF])
        late = 2_000_000 if self.fault == "join-window" else 0  # 7 s: after RX2
        await send_down(accept, tmst + JOIN_DELAY_US + late)

    async def _data(self, phy: bytes, tmst: int, send_down: SendDown) -> None:
        (dev_addr,) = struct.unpack("<I", phy[1:5])
        device = next(
            (d for d in self.devices.values() if d.session and d.session.dev_addr == dev_addr),
            None,
        )
        if device is None or device.session is None:
            return
        session, (f_cnt,) = device.session, struct.unpack("<H", phy[6:8])
        f_port, encrypted = phy[8], phy[9:-MIC_SIZE]
        payload = payload_cipher(session.app_s_key, UP, dev_addr, f_cnt, encrypted)
        if self.mqtt is not None and self.fault != "no-mqtt-uplink":
            up = {
                "end_device_ids": {"device_id": device.device_id},
                "uplink_message": {"f_port": f_port, "f_cnt": f_cnt,
                                   "frm_payload": base64.b64encode(payload).decode()},
            }  # fmt: skip
            topic = f"v3/{device.application_id}/devices/{device.device_id}/up"
            await self.mqtt.publish(topic, json.dumps(up))
        rx1 = tmst + session.rx1_delay * 1_000_000
        if self.fault == "downlink-fcnt" and device.f_cnt_down == 0:
            await send_down(lorawan.data_downlink(session, 7, None, b""), rx1)
            device.f_cnt_down = 3  # and back: the queued downlink repeats an old counter
            return
        if device.queued:
            port, data = device.queued.pop(0)
            frame = lorawan.data_downlink(session, device.f_cnt_down, port, data)
            if self.fault == "downlink-mic":
                frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
            device.f_cnt_down += 1
            await send_down(frame, rx1)
