"""The device probe: an OTAA device joins through the probe gateway, its uplink reaches the
application over MQTT, and a downlink queued over MQTT comes back to it.

Steps, each polled like every smoke check (polling.Poller), all on the gateway the probe
registered and saw connected:

- ``device-create``: an application, its MQTT API key and a LoRaWAN 1.0.3 OTAA device with a
  random DevEUI and AppKey (devices.py);
- ``join``: a JoinRequest with a fresh DevNonce; the JoinAccept must come in RX1 or RX2
  (5 or 6 s after it, every region's JoinAccept delay), verify with the AppKey and give the
  session keys (lorawan.py);
- ``uplink``: a data uplink with a random payload; the Application Server must publish it on
  MQTT, decrypted, with its FCnt (app_mqtt.py);
- ``downlink``: a random payload queued over MQTT; after the device's next uplink it must
  come in RX1 or RX2 of that uplink, with a MIC that verifies and a frame counter above every
  earlier one, and decrypt to what was queued. A downlink with MAC commands only (the
  Network Server's own) is verified the same way and the device sends again;
- ``device-delete``: everything ``device-create`` made, also when a step failed.

A frame that fails verification is final: a network that signs wrongly will not sign right
on a second try.
"""

from __future__ import annotations

import secrets
import ssl
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Final

import anyio
import httpx

from pipelines.smoke import app_mqtt, devices, lorawan, registry
from pipelines.smoke.polling import CheckResult, Poller, ProbeFailure
from pipelines.smoke.radio import TMST_WRAP, GatewayRadio, Heard, radio, window
from pipelines.smoke.registry import API_TIMEOUT, Owner, ProbeGateway
from pipelines.smoke.station import station
from pipelines.smoke.target import Target

STEPS: Final = ("device-create", "join", "uplink", "downlink", "device-delete")
JOIN_ACCEPT_DELAY: Final = 5  # s, RX1 of a JoinAccept; RX2 one second later
RECEIVE_MARGIN: Final = 2.5  # s past RX2 for the PULL_RESP to arrive
UPLINK_TO_MQTT: Final = 5.0  # s an attempt waits for the uplink on MQTT
UP_PORT, DOWN_PORT = 42, 43  # FPorts: the probe's, recognisable in the application's data
DEFAULT_DEVICE_DEADLINE: Final = 60.0


def join_timeout() -> float:
    """How long a join attempt waits: past RX2 of the JoinAccept."""
    return JOIN_ACCEPT_DELAY + 1 + RECEIVE_MARGIN


def downlink_timeout() -> float:
    """How long a downlink attempt waits: past RX2 of the longest RX1 delay (15 s)."""
    return 15 + 1 + RECEIVE_MARGIN + 1


@dataclass
class DeviceProbe:
    """One run's device: what exists of it, its gateway, session and frame counters."""

    client: httpx.AsyncClient
    target: Target
    api_key: str = field(repr=False)
    owner: Owner | None = None  # the key's, known once the gateway is registered
    gateway: ProbeGateway | None = None  # the registered probe gateway the device uses
    tls: ssl.SSLContext | None = None  # for MQTT with mqtt_tls and a wss:// LNS
    device: devices.ProbeDevice = field(default_factory=devices.ProbeDevice.random)
    created: devices.Created = field(default_factory=devices.Created)
    session: lorawan.Session | None = None
    f_cnt_up: int = 0
    min_f_cnt_down: int = 0
    uplinks: dict[int, int] = field(default_factory=dict)  # tmst -> FCnt, for the windows
    queued: tuple[bytes, float] | None = None  # the downlink payload and when it was pushed
    exits: AsyncExitStack = field(default_factory=AsyncExitStack)
    link_key_id: str | None = None  # the Basic Station's gateway key, removed with the device
    _radio: GatewayRadio | None = None
    _link_key: str = field(default="", repr=False)
    _mqtt: app_mqtt.AppMqtt | None = None

    @property
    def _link_keys(self) -> str:
        """The API keys of the probe gateway (a Basic Station links with one)."""
        assert self.gateway is not None  # set before the steps run
        return f"/gateways/{self.gateway.gateway_id}/api-keys"

    @property
    def plan(self) -> str:
        assert self.target.frequency_plan is not None  # a device probe needs a key and a plan
        return self.target.frequency_plan

    async def create(self) -> str:
        assert self.owner is not None  # set before the steps run
        return await devices.create(
            self.client, self.api_key, self.owner, self.device, self.plan, self.created
        )

    async def delete(self) -> str:
        assert self.owner is not None  # nothing is created before it is set
        await self.exits.aclose()
        if self.link_key_id is not None and self.gateway is not None:
            await registry.delete(
                self.client, self.api_key, f"{self._link_keys}/{self.link_key_id}"
            )
            self.link_key_id = None
        return await devices.remove(
            self.client, self.api_key, self.owner, self.device, self.created
        )

    async def _gateway(self) -> GatewayRadio:
        """The probe gateway's radio side, opened once: UDP, or a Basic Station."""
        if self._radio is not None:
            return self._radio
        if self.target.gateway_protocol == "udp":
            self._radio = await self.exits.enter_async_context(radio(self.target, self.plan))
            return self._radio
        assert self.gateway is not None  # set before the steps run
        if self.link_key_id is None:
            self.link_key_id, self._link_key = await registry.new_api_key(
                self.client, self.api_key, self._link_keys, "tts-ci probe LNS",
                ["RIGHT_GATEWAY_LINK"],
            )  # fmt: skip
        self._radio = await self.exits.enter_async_context(
            station(self.target.lns, self.gateway.eui, self.plan, self._link_key, self.tls)
        )
        return self._radio

    async def _app(self) -> app_mqtt.AppMqtt:
        if self._mqtt is None:
            assert self.created.mqtt_key is not None  # made by device-create
            host = self.target.mqtt_host or self.target.host
            self._mqtt = await self.exits.enter_async_context(
                app_mqtt.connected(host, self.target.mqtt_port, self.device.application_id,
                                   self.created.mqtt_key, self.device.device_id,
                                   self.tls if self.target.mqtt_tls else None)
            )  # fmt: skip
        return self._mqtt

    async def join(self) -> str:
        gateway = await self._gateway()
        nonce = secrets.randbelow(0x10000)
        request = lorawan.join_request(
            self.device.app_key, self.device.join_eui, self.device.dev_eui, nonce
        )
        sent_at, tmst = anyio.current_time(), await gateway.send(request)
        heard = await gateway.receive(join_timeout())
        if heard is None:
            raise ProbeFailure(
                f"no JoinAccept within {join_timeout():.1f} s of the JoinRequest "
                f"(DevEUI {self.device.dev_eui.hex().upper()}, DevNonce {nonce})"
            )
        rx = window(heard.tmst, tmst, JOIN_ACCEPT_DELAY)
        if rx is None:
            why = _outside("JoinAccept", heard.tmst, tmst, JOIN_ACCEPT_DELAY)
            raise ProbeFailure(why, final=True)
        try:
            self.session = lorawan.accept_join(heard.phy, self.device.app_key, nonce)
        except lorawan.FrameError as err:
            raise ProbeFailure(f"JoinAccept refused: {err}", final=True) from None
        return (
            f"JoinAccept in {rx} {heard.at - sent_at:.2f} s after the JoinRequest: DevAddr "
            f"{self.session.dev_addr_hex}, RX1 delay {self.session.rx1_delay} s"
        )

    async def _send_uplink(self, payload: bytes) -> tuple[int, float]:
        """Send the next data uplink; its FCnt and when it left."""
        assert self.session is not None  # run after the join
        f_cnt, self.f_cnt_up = self.f_cnt_up, self.f_cnt_up + 1
        frame = lorawan.data_uplink(self.session, f_cnt, UP_PORT, payload)
        gateway = await self._gateway()
        sent_at, tmst = anyio.current_time(), await gateway.send(frame)
        self.uplinks[tmst] = f_cnt
        return f_cnt, sent_at

    async def uplink(self) -> str:
        app = await self._app()
        payload = secrets.token_bytes(8)
        f_cnt, sent_at = await self._send_uplink(payload)
        with anyio.move_on_after(UPLINK_TO_MQTT):
            got, _ = await app.uplink(f_cnt)
            if got != payload:
                raise ProbeFailure(
                    f"uplink FCnt {f_cnt} reached MQTT as {got.hex()}, the device sent "
                    f"{payload.hex()}: the Application Server decrypted it wrongly",
                    final=True,
                )
            return (
                f"uplink FCnt {f_cnt} on FPort {UP_PORT} reached MQTT {app.topic}/up "
                f"decrypted, {anyio.current_time() - sent_at:.2f} s after it was sent"
            )
        raise ProbeFailure(
            f"uplink FCnt {f_cnt} did not reach MQTT {app.topic}/up in {UPLINK_TO_MQTT:.0f} s"
        )

    async def downlink(self) -> str:
        assert self.session is not None  # run after the join
        app, gateway = await self._app(), await self._gateway()
        if self.queued is None:
            payload = secrets.token_bytes(6)
            await app.push_downlink(DOWN_PORT, payload)
            self.queued = (payload, anyio.current_time())
        f_cnt, _ = await self._send_uplink(b"\x00")
        end = anyio.current_time() + self.session.rx1_delay + 1 + RECEIVE_MARGIN
        while (heard := await gateway.receive(end - anyio.current_time())) is not None:
            frame, rx = self._verified(heard)
            if frame.f_port is None or frame.f_port == 0:
                continue  # the Network Server's MAC commands: verified, not ours
            if frame.f_port != DOWN_PORT:
                why = f"downlink on FPort {frame.f_port}, the probe queued one on {DOWN_PORT}"
                raise ProbeFailure(why, final=True)
            payload, pushed_at = self.queued
            if frame.payload != payload:
                raise ProbeFailure(
                    f"downlink FCnt {frame.f_cnt} decrypts to {frame.payload.hex()}, the probe "
                    f"queued {payload.hex()}",
                    final=True,
                )
            return (
                f"downlink FCnt {frame.f_cnt} on FPort {DOWN_PORT} in {rx}, MIC verified, "
                f"payload as queued; {heard.at - pushed_at:.2f} s from the MQTT push"
            )
        raise ProbeFailure(
            f"no downlink on FPort {DOWN_PORT} in RX1/RX2 of uplink FCnt {f_cnt}; the queued "
            "one may come with the next uplink"
        )

    def _verified(self, heard: Heard) -> tuple[lorawan.Downlink, str]:
        """The downlink `heard`, in a receive window of one of our uplinks, MIC and FCnt checked;
        the frame and "RX1/RX2 of uplink FCnt n"."""
        assert self.session is not None  # run after the join
        rx = None
        for tmst, f_cnt in self.uplinks.items():
            if (found := window(heard.tmst, tmst, self.session.rx1_delay)) is not None:
                rx = f"{found} of uplink FCnt {f_cnt}"
                break
        if rx is None:
            latest = max(self.uplinks, key=lambda t: self.uplinks[t])
            why = _outside("downlink", heard.tmst, latest, self.session.rx1_delay)
            raise ProbeFailure(why, final=True)
        try:
            frame = lorawan.read_downlink(self.session, heard.phy, self.min_f_cnt_down)
        except lorawan.FrameError as err:
            raise ProbeFailure(f"downlink refused: {err}", final=True) from None
        self.min_f_cnt_down = frame.f_cnt + 1
        return frame, rx


def _outside(what: str, heard: int | None, uplink: int, delay: int) -> str:
    """Why a frame is in no class A receive window of the uplink at `uplink`."""
    windows = f"not in RX1 ({delay} s) or RX2 ({delay + 1} s) after the uplink"
    if heard is None:
        return f"{what} asked for transmission at once, {windows}"
    return f"{what} timed {((heard - uplink) % TMST_WRAP) / 1e6:.6f} s after the uplink, {windows}"


async def run_steps(device: DeviceProbe, poll: Poller, deadline: float) -> dict[str, CheckResult]:
    """Poll each step but the last in turn; attempts start within `deadline` seconds and a
    radio step's last one may end up to its attempt timeout later. After a failure the rest
    are not run. ``device-delete`` is the caller's, whatever happened."""
    steps = [
        ("device-create", device.create, API_TIMEOUT),
        ("join", device.join, join_timeout() + 1),
        ("uplink", device.uplink, UPLINK_TO_MQTT + 1),
        ("downlink", device.downlink, downlink_timeout()),
    ]
    end = anyio.current_time() + deadline
    results: dict[str, CheckResult] = {}
    for number, (name, attempt, attempt_timeout) in enumerate(steps):
        radio_step = name != "device-create"  # waits on receive windows: never cut short
        results[name] = await poll(name, attempt, end, attempt_timeout, whole=radio_step)
        if not results[name].ok:
            for later, _, _ in steps[number + 1 :]:
                results[later] = poll.not_run(later, f"not run: {name} failed")
            break
    return results
