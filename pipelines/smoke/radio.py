"""The probe gateway's radio over Semtech UDP: it hears the device's frames, it transmits
the network's downlinks.

One socket for the whole device probe: the Gateway Server sends a PULL_RESP to the address
the gateway's last PULL_DATA came from (its downlink path), so every packet leaves from
here. Each PULL_RESP is answered with a TX_ACK when read, as a packet forwarder does, and
handed to the probe with the `txpk` it asked to transmit. The concentrator clock (`tmst`,
microseconds, wrapping at 2^32) runs with real time, so the server's RX1/RX2 arithmetic
meets the same clock a real gateway has.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, Protocol

import anyio
from anyio.abc import ConnectedUDPSocket

from pipelines.smoke import semtech
from pipelines.smoke.target import Target

TMST_WRAP: Final = 1 << 32
# The first uplink channel of a plan (MHz, data rate, its DR index in the region): where
# this single-channel device sends.
UPLINK_CHANNELS: Final = {
    "EU_863_870": (868.1, "SF7BW125", 5),
    "US_902_928_FSB_2": (903.9, "SF7BW125", 3),
    "AU_915_928_FSB_2": (916.8, "SF7BW125", 5),
}


def uplink_channel(plan: str) -> tuple[float, str, int]:
    """The channel for `plan`; ValueError naming the plans the probe knows."""
    for prefix, channel in UPLINK_CHANNELS.items():
        if plan == prefix or plan.startswith(f"{prefix}_"):
            return channel
    known = ", ".join(f"{p}*" if p.startswith("EU") else p for p in UPLINK_CHANNELS)
    raise ValueError(f"the device probe knows no uplink channel of plan {plan!r}: use {known}")


@dataclass(frozen=True)
class Heard:
    """A downlink the network asked the gateway to transmit."""

    phy: bytes
    tmst: int | None  # None: "imme" (transmit now), never a class A receive window
    at: float  # anyio time the PULL_RESP arrived


class GatewayRadio(Protocol):
    """What the device probe needs of its gateway, over UDP (Radio) or Basic Station."""

    async def send(self, phy: bytes) -> int:
        """Hand a heard frame to the network; the gateway clock's time of it."""

    async def receive(self, seconds: float) -> Heard | None:
        """The next frame the network asks to transmit, within `seconds`, else None."""


class Radio:
    """Send the device's frames as `rxpk`; receive the network's `txpk`s."""

    def __init__(self, target: Target, sock: ConnectedUDPSocket, channel: tuple[float, str, int]):
        self.target, self.sock, self.channel = target, sock, channel
        self.clock_base = secrets.randbelow(TMST_WRAP)
        self.started = anyio.current_time()

    def tmst(self) -> int:
        """The concentrator clock now."""
        elapsed = int((anyio.current_time() - self.started) * 1_000_000)
        return (self.clock_base + elapsed) % TMST_WRAP

    async def send(self, phy: bytes) -> int:
        """Keep the downlink path ours (PULL_DATA), then hand the frame up; its `tmst`."""
        eui = self.target.gateway_eui
        await self.sock.send(semtech.encode(semtech.pull_data(eui)))
        tmst = self.tmst()
        freq, datr, _ = self.channel
        rxpk = {
            "tmst": tmst, "chan": 0, "rfch": 0, "freq": freq, "stat": 1, "modu": "LORA",
            "datr": datr, "codr": "4/5", "rssi": -50, "lsnr": 9.5, "size": len(phy),
            "data": base64.b64encode(phy).decode(),
        }  # fmt: skip
        push = semtech.Packet(semtech.PacketType.PUSH_DATA, semtech.new_token(), eui,
                              {"rxpk": [rxpk]})  # fmt: skip
        await self.sock.send(semtech.encode(push))
        return tmst

    async def receive(self, seconds: float) -> Heard | None:
        """The next downlink within `seconds` (TX_ACK sent), else None.

        Acks are passed over; a malformed datagram raises semtech.ProtocolError.
        """
        eui = self.target.gateway_eui
        with anyio.move_on_after(max(seconds, 0)):
            while True:
                packet = semtech.decode(await self.sock.receive())
                if packet.type is semtech.PacketType.PULL_RESP:
                    ack = {"txpk_ack": {"error": "NONE"}}
                    tx_ack = semtech.Packet(semtech.PacketType.TX_ACK, packet.token, eui, ack)
                    await self.sock.send(semtech.encode(tx_ack))
                    return _heard(packet.body or {})
        return None


def _heard(body: dict[str, Any]) -> Heard:
    txpk = body.get("txpk")
    if not isinstance(txpk, dict):
        raise semtech.ProtocolError("PULL_RESP without a txpk object")
    try:
        phy = base64.b64decode(str(txpk.get("data")), validate=True)
    except (binascii.Error, ValueError):
        raise semtech.ProtocolError("PULL_RESP txpk.data is not base64") from None
    tmst = txpk.get("tmst")
    if txpk.get("imme") is True or not isinstance(tmst, int) or isinstance(tmst, bool):
        tmst = None
    return Heard(phy, tmst, anyio.current_time())


@asynccontextmanager
async def radio(target: Target, plan: str) -> AsyncIterator[Radio]:
    """A radio on its own socket until the block ends."""
    channel = uplink_channel(plan)
    async with await anyio.create_connected_udp_socket(
        remote_host=target.udp_address, remote_port=target.udp_port
    ) as sock:
        yield Radio(target, sock, channel)


def window(heard_tmst: int | None, uplink_tmst: int, rx1_delay: int) -> str | None:
    """'RX1' or 'RX2' when the downlink is timed for that window of the uplink, else None."""
    if heard_tmst is None:
        return None
    after = (heard_tmst - uplink_tmst) % TMST_WRAP
    return {rx1_delay * 1_000_000: "RX1", (rx1_delay + 1) * 1_000_000: "RX2"}.get(after)
