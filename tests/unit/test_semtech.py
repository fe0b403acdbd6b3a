"""The Semtech UDP codec: every packet type round-trips; malformed replies are rejected."""

import json
from collections.abc import Callable

import pytest

from pipelines.smoke import semtech
from pipelines.smoke.semtech import Packet, PacketType, ProtocolError

EUI = bytes.fromhex("AA555A0000000001")


def test_pull_data_layout() -> None:
    # version 2, token 0x1234, identifier 0x02, then the EUI: PROTOCOL.TXT section 5.2.
    assert semtech.encode(semtech.pull_data(EUI, 0x1234)) == b"\x02\x12\x34\x02" + EUI


def test_push_data_carries_stat_object() -> None:
    datagram = semtech.encode(semtech.push_data(EUI, 0xBEEF, now=0))
    assert datagram[:12] == b"\x02\xbe\xef\x00" + EUI
    stat = json.loads(datagram[12:])["stat"]
    # TTS parses stat.time with Go layout "2006-01-02 15:04:05 MST" (pkg/ttnpb/udp/time.go).
    assert stat["time"] == "1970-01-01 00:00:00 GMT"
    assert {"rxnb", "rxok", "rxfw", "ackr", "dwnb", "txnb"} <= stat.keys()


@pytest.mark.parametrize(
    "packet",
    [
        Packet(PacketType.PUSH_DATA, 1, EUI, {"stat": {"rxnb": 1}}),
        Packet(PacketType.PUSH_ACK, 2),
        Packet(PacketType.PULL_DATA, 3, EUI),
        Packet(PacketType.PULL_RESP, 4, body={"txpk": {"imme": True}}),
        Packet(PacketType.PULL_ACK, 0xFFFF),
        Packet(PacketType.TX_ACK, 6, EUI),
        Packet(PacketType.TX_ACK, 7, EUI, {"txpk_ack": {"error": "NONE"}}),
    ],
    ids=lambda p: f"{p.type.name}-{'body' if p.body else 'bare'}",
)
def test_every_packet_type_round_trips(packet: Packet) -> None:
    datagram = semtech.encode(packet)
    assert datagram[3] == packet.type
    assert semtech.decode(datagram) == packet


def test_acks_are_bare_headers() -> None:
    assert semtech.encode(Packet(PacketType.PUSH_ACK, 0x0102)) == b"\x02\x01\x02\x01"
    assert semtech.encode(Packet(PacketType.PULL_ACK, 0x0102)) == b"\x02\x01\x02\x04"


@pytest.mark.parametrize(
    ("request_type", "ack_type"),
    [(PacketType.PULL_DATA, PacketType.PULL_ACK), (PacketType.PUSH_DATA, PacketType.PUSH_ACK)],
)
def test_matching_ack_is_accepted(request_type: PacketType, ack_type: PacketType) -> None:
    body: dict[str, object] | None = {"stat": {}} if request_type is PacketType.PUSH_DATA else None
    request = Packet(request_type, 0x4242, EUI, body)
    reply = semtech.decode_reply(bytes([2, 0x42, 0x42, ack_type]), request)
    assert reply == Packet(ack_type, 0x4242)


PULL = semtech.pull_data(EUI, 0xA1B2)


@pytest.mark.parametrize(
    ("datagram", "reason"),
    [
        (b"\x01\xa1\xb2\x04", "wrong protocol version 1"),
        (b"\x03\xa1\xb2\x04", "wrong protocol version 3"),
        (b"\x02\xa1\xb3\x04", "token 0xa1b3 != sent 0xa1b2"),
        (b"\x02\xb2\xa1\x04", "token 0xb2a1 != sent 0xa1b2"),
        (b"\x02\xa1\xb2\x01", "expected PULL_ACK, got PUSH_ACK"),
        (b"\x02\xa1\xb2\x02" + EUI, "expected PULL_ACK, got PULL_DATA"),
        (b"\x02\xa1\xb2\x09", "unknown packet identifier 0x09"),
        (b"", "short datagram: 0 bytes"),
        (b"\x02\xa1\xb2", "short datagram: 3 bytes"),
        (b"\x02\xa1\xb2\x04\x00", "PULL_ACK has 1 unexpected trailing bytes"),
    ],
)
def test_malformed_pull_ack_is_rejected(datagram: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        semtech.decode_reply(datagram, PULL)


def test_push_ack_for_another_token_is_rejected() -> None:
    push = semtech.push_data(EUI, 0x0001)
    assert semtech.decode_reply(b"\x02\x00\x01\x01", push).type is PacketType.PUSH_ACK
    with pytest.raises(ProtocolError, match="token"):
        semtech.decode_reply(b"\x02\x00\x02\x01", push)
    with pytest.raises(ProtocolError, match="expected PUSH_ACK, got PULL_ACK"):
        semtech.decode_reply(b"\x02\x00\x01\x04", push)


@pytest.mark.parametrize(
    ("datagram", "reason"),
    [
        (b"\x02\x00\x01\x02\xaa\x55", "PULL_DATA without an 8-byte gateway EUI"),
        (b"\x02\x00\x01\x00" + EUI, "PUSH_DATA without its JSON object"),
        (b"\x02\x00\x01\x00" + EUI + b"{not json", "PUSH_DATA body is not JSON"),
        (b"\x02\x00\x01\x00" + EUI + b"[1]", "PUSH_DATA body is list, not a JSON object"),
        (b"\x02\x00\x01\x00" + EUI + b"\xff\xfe", "PUSH_DATA body is not JSON"),
        (b"\x02\x00\x01\x03", "PULL_RESP without its JSON object"),
        (b"\x02\x00\x01\x02" + EUI + b"x", "PULL_DATA has 1 unexpected trailing bytes"),
        (b"\x02\x00\x01\x05\x00", "TX_ACK without an 8-byte gateway EUI"),
    ],
)
def test_malformed_packets_are_rejected(datagram: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        semtech.decode(datagram)


def test_decode_accepts_version_1_only_when_asked() -> None:
    assert semtech.decode(b"\x01\x00\x05\x04", version=1) == Packet(
        PacketType.PULL_ACK, 5, version=1
    )


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Packet(PacketType.PULL_DATA, 1),  # no EUI
        lambda: Packet(PacketType.PULL_ACK, 1, EUI),  # EUI on an ack
        lambda: Packet(PacketType.PULL_DATA, 1, b"\x00" * 7),
        lambda: Packet(PacketType.PULL_ACK, 0x10000),
        lambda: Packet(PacketType.PULL_ACK, -1),
        lambda: Packet(PacketType.PUSH_DATA, 1, EUI),  # no body
        lambda: Packet(PacketType.PUSH_ACK, 1, body={}),
    ],
)
def test_invalid_packets_cannot_be_built(bad: Callable[[], Packet]) -> None:
    with pytest.raises(ValueError, match=r"."):
        bad()


def test_only_data_packets_have_acks() -> None:
    with pytest.raises(ValueError, match="TX_ACK is not acknowledged"):
        semtech.decode_reply(b"\x02\x00\x00\x01", Packet(PacketType.TX_ACK, 0, EUI))


@pytest.mark.parametrize(
    "text", ["AA555A0000000001", "aa555a0000000001", "AA-55-5A-00-00-00-00-01"]
)
def test_parse_eui(text: str) -> None:
    assert semtech.parse_eui(text) == EUI


@pytest.mark.parametrize("text", ["", "AA555A00000000", "AA555A000000000001", "GG555A0000000001"])
def test_parse_eui_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not 16 hex digits"):
        semtech.parse_eui(text)


def test_tokens_are_random_16_bit() -> None:
    tokens = {semtech.new_token() for _ in range(200)}
    assert all(0 <= t <= 0xFFFF for t in tokens)
    assert len(tokens) > 150  # 200 draws from 65536 values: collisions are rare
