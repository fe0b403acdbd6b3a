"""The Semtech UDP packet-forwarder protocol, version 2: encode and strictly decode datagrams.

Every datagram starts with a 4-byte header: protocol version, a 2-byte random token, and
the packet identifier. Gateway-to-server packets (PUSH_DATA, PULL_DATA, TX_ACK) then
carry the 8-byte gateway EUI; PUSH_DATA, PULL_RESP and TX_ACK carry a JSON object.
Acknowledgements (PUSH_ACK, PULL_ACK) are the bare header, echoing the request's token.

Layout as in Semtech's packet_forwarder PROTOCOL.TXT and The Things Stack's encoder
(lorawan-stack v3.32.0, pkg/ttnpb/udp/packet.go). Decoding is strict on purpose: a smoke
probe must reject any reply that is not exactly the acknowledgement it asked for.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

PROTOCOL_VERSION: Final = 2
HEADER_SIZE: Final = 4
EUI_SIZE: Final = 8
MAX_TOKEN: Final = 0xFFFF
MAX_BYTE: Final = 0xFF


class PacketType(IntEnum):
    """The packet identifier (byte 3 of the header)."""

    PUSH_DATA = 0x00
    PUSH_ACK = 0x01
    PULL_DATA = 0x02
    PULL_RESP = 0x03
    PULL_ACK = 0x04
    TX_ACK = 0x05

    @property
    def has_eui(self) -> bool:
        """Gateway-to-server packets name their gateway."""
        return self in (PacketType.PUSH_DATA, PacketType.PULL_DATA, PacketType.TX_ACK)

    @property
    def json_body(self) -> str:
        """'required', 'optional' (TX_ACK may be bare) or 'none'."""
        if self in (PacketType.PUSH_DATA, PacketType.PULL_RESP):
            return "required"
        return "optional" if self is PacketType.TX_ACK else "none"


ACK_FOR: Final = {
    PacketType.PUSH_DATA: PacketType.PUSH_ACK,
    PacketType.PULL_DATA: PacketType.PULL_ACK,
}


class ProtocolError(ValueError):
    """A datagram that is not a valid packet of the expected kind."""


@dataclass(frozen=True)
class Packet:
    """One datagram. `token` is 0..65535; `eui` is 8 bytes for gateway-to-server packets."""

    type: PacketType
    token: int
    eui: bytes | None = None
    body: dict[str, Any] | None = None
    version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        if not 0 <= self.token <= MAX_TOKEN:
            raise ValueError(f"token {self.token} is not 0..65535")
        if not 0 <= self.version <= MAX_BYTE:
            raise ValueError(f"protocol version {self.version} is not one byte")
        if self.type.has_eui != (self.eui is not None):
            raise ValueError(f"{self.type.name} {'needs' if self.type.has_eui else 'has no'} EUI")
        if self.eui is not None and len(self.eui) != EUI_SIZE:
            raise ValueError(f"gateway EUI must be {EUI_SIZE} bytes, got {len(self.eui)}")
        if self.type.json_body == "required" and self.body is None:
            raise ValueError(f"{self.type.name} needs a JSON object body")
        if self.type.json_body == "none" and self.body is not None:
            raise ValueError(f"{self.type.name} carries no body")


def encode(packet: Packet) -> bytes:
    """The datagram for `packet`."""
    out = bytes([packet.version]) + packet.token.to_bytes(2, "big") + bytes([packet.type])
    if packet.eui is not None:
        out += packet.eui
    if packet.body is not None:
        out += json.dumps(packet.body, separators=(",", ":")).encode()
    return out


def decode(datagram: bytes, *, version: int = PROTOCOL_VERSION) -> Packet:
    """Parse `datagram`, rejecting anything malformed, trailing or of another protocol version."""
    if len(datagram) < HEADER_SIZE:
        raise ProtocolError(f"short datagram: {len(datagram)} bytes, the header alone is 4")
    if datagram[0] != version:
        raise ProtocolError(f"wrong protocol version {datagram[0]}, expected {version}")
    token = int.from_bytes(datagram[1:3], "big")
    try:
        ptype = PacketType(datagram[3])
    except ValueError:
        raise ProtocolError(f"unknown packet identifier 0x{datagram[3]:02x}") from None
    rest = datagram[HEADER_SIZE:]
    eui = None
    if ptype.has_eui:
        if len(rest) < EUI_SIZE:
            raise ProtocolError(f"short datagram: {ptype.name} without an 8-byte gateway EUI")
        eui, rest = rest[:EUI_SIZE], rest[EUI_SIZE:]
    body = None
    if rest:
        if ptype.json_body == "none":
            raise ProtocolError(f"{ptype.name} has {len(rest)} unexpected trailing bytes")
        body = _json_object(ptype, rest)
    elif ptype.json_body == "required":
        raise ProtocolError(f"{ptype.name} without its JSON object")
    return Packet(ptype, token, eui, body, version)


def decode_reply(datagram: bytes, request: Packet) -> Packet:
    """Decode the server's acknowledgement of `request`; anything else is a ProtocolError."""
    expected = ACK_FOR.get(request.type)
    if expected is None:
        raise ValueError(f"{request.type.name} is not acknowledged")
    reply = decode(datagram, version=request.version)
    if reply.type is not expected:
        raise ProtocolError(f"expected {expected.name}, got {reply.type.name}")
    if reply.token != request.token:
        raise ProtocolError(
            f"{reply.type.name} token {reply.token:#06x} != sent {request.token:#06x}"
        )
    return reply


def _json_object(ptype: PacketType, raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"{ptype.name} body is not JSON: {err}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{ptype.name} body is {type(value).__name__}, not a JSON object")
    return value


def parse_eui(text: str) -> bytes:
    """'AA555A0000000000' (hyphens/colons allowed) -> 8 bytes; ValueError names the problem."""
    digits = text.replace("-", "").replace(":", "")
    if len(digits) != 2 * EUI_SIZE or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"gateway EUI {text!r} is not 16 hex digits (e.g. AA555A0000000000)")
    return bytes.fromhex(digits)


def new_token() -> int:
    """A fresh random token: replies carrying any other token are not ours."""
    return secrets.randbelow(0x10000)


def pull_data(eui: bytes, token: int | None = None) -> Packet:
    """A PULL_DATA (keep-alive that opens the downlink path)."""
    return Packet(PacketType.PULL_DATA, new_token() if token is None else token, eui)


def push_data(eui: bytes, token: int | None = None, *, now: float | None = None) -> Packet:
    """A PUSH_DATA carrying a gateway `stat` object, as a forwarder sends every 30 s or so."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S GMT", time.gmtime(now))
    stat = {"time": stamp, "rxnb": 0, "rxok": 0, "rxfw": 0, "ackr": 100.0, "dwnb": 0, "txnb": 0}
    return Packet(
        PacketType.PUSH_DATA, new_token() if token is None else token, eui, {"stat": stat}
    )
