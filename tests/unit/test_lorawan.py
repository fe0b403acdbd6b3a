"""What the device probe accepts from a network, and what it refuses (pipelines/smoke/lorawan.py,
radio.py). The real ttn-lw-stack proves the cryptography itself (tests/realserver); these
tests tamper with frames the network side of tests/support/lorawan.py builds."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipelines.smoke import lorawan
from pipelines.smoke.radio import TMST_WRAP, uplink_channel, window
from tests.support import lorawan as network

APP_KEY = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
DEV_ADDR = 0x260B1234


def _flip(frame: bytes, at: int) -> bytes:
    return frame[:at] + bytes([frame[at] ^ 0x01]) + frame[at + 1 :]


def test_a_join_request_carries_the_euis_little_endian_and_its_nonce() -> None:
    frame = lorawan.join_request(
        APP_KEY, bytes.fromhex("70B3D57ED0000001"), bytes.fromhex("0102030405060708"), 0xBEEF
    )
    assert len(frame) == 1 + 8 + 8 + 2 + 4
    assert frame[0] == 0x00
    assert frame[1:9] == bytes.fromhex("010000D07ED5B370")
    assert frame[9:17] == bytes.fromhex("0807060504030201")
    assert frame[17:19] == bytes.fromhex("EFBE")


def test_a_join_accept_gives_the_session_the_network_derived() -> None:
    phy, made = network.join_accept(APP_KEY, 0x1234, DEV_ADDR, rx_delay=3)
    session = lorawan.accept_join(phy, APP_KEY, 0x1234)
    assert session == made
    assert session.dev_addr_hex == "260B1234"
    assert session.rx1_delay == 3


@pytest.mark.parametrize(
    ("frame", "app_key", "message"),
    [
        (_flip(network.join_accept(APP_KEY, 1, DEV_ADDR)[0], 5), APP_KEY, "MIC does not verify"),
        (network.join_accept(APP_KEY, 1, DEV_ADDR)[0], bytes(16), "MIC does not verify"),
        (network.join_accept(APP_KEY, 1, DEV_ADDR)[0][:-1], APP_KEY, "of 16 bytes"),
        (b"\x40" + network.join_accept(APP_KEY, 1, DEV_ADDR)[0][1:], APP_KEY, "MHDR 0x40"),
        (b"", APP_KEY, "not a JoinAccept"),
    ],
    ids=["tampered", "another-app-key", "truncated", "a-data-frame", "empty"],
)
def test_a_join_accept_that_does_not_verify_is_refused(
    frame: bytes, app_key: bytes, message: str
) -> None:
    with pytest.raises(lorawan.FrameError, match=message):
        lorawan.accept_join(frame, app_key, 1)


def test_a_downlink_decrypts_to_what_the_network_encrypted() -> None:
    _, session = network.join_accept(APP_KEY, 9, DEV_ADDR)
    frame = lorawan.read_downlink(session, network.data_downlink(session, 4, 43, b"hello"), 3)
    assert (frame.kind, frame.f_cnt, frame.f_port, frame.payload) == (
        "unconfirmed",
        4,
        43,
        b"hello",
    )
    mac_only = lorawan.read_downlink(session, network.data_downlink(session, 5, None, b""), 5)
    assert (mac_only.f_port, mac_only.payload) == (None, b"")


def test_the_16_bit_frame_counter_is_widened_past_a_wrap() -> None:
    _, session = network.join_accept(APP_KEY, 9, DEV_ADDR)
    frame = lorawan.read_downlink(
        session, network.data_downlink(session, 0x20001, 1, b"x"), 0x1FFFE
    )
    assert frame.f_cnt == 0x20001


def test_a_replayed_downlink_fails_its_mic_at_the_counter_the_device_expects() -> None:
    _, session = network.join_accept(APP_KEY, 9, DEV_ADDR)
    replayed = network.data_downlink(session, 2, 43, b"again")
    with pytest.raises(lorawan.FrameError, match=r"FCnt 65538 .*at least 3.*wrong frame counter"):
        lorawan.read_downlink(session, replayed, 3)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda f: _flip(f, len(f) - 1), "MIC does not verify"),
        (lambda f: _flip(f, 1), "not 260B1234"),
        (lambda f: b"\x20" + f[1:], "not a data downlink"),
        (lambda f: f[:10], "header and MIC alone are 12"),
        (lambda f: f[:5] + bytes([0x0F]) + f[6:], "MIC does not verify"),
    ],
    ids=["mic", "dev-addr", "mhdr", "truncated", "fopts-len"],
)
def test_a_downlink_that_does_not_verify_is_refused(
    tamper: Callable[[bytes], bytes], message: str
) -> None:
    _, session = network.join_accept(APP_KEY, 9, DEV_ADDR)
    frame = tamper(network.data_downlink(session, 1, 43, b"payload"))
    with pytest.raises(lorawan.FrameError, match=message):
        lorawan.read_downlink(session, frame, 0)


def test_an_uplink_port_must_be_an_application_port() -> None:
    _, session = network.join_accept(APP_KEY, 9, DEV_ADDR)
    for port in (0, 224):
        with pytest.raises(ValueError, match="not an application port"):
            lorawan.data_uplink(session, 0, port, b"")


def test_receive_windows_follow_the_uplink_on_the_wrapping_clock() -> None:
    uplink = TMST_WRAP - 2_000_000  # the clock wraps before RX1
    assert window((uplink + 5_000_000) % TMST_WRAP, uplink, 5) == "RX1"
    assert window((uplink + 6_000_000) % TMST_WRAP, uplink, 5) == "RX2"
    assert window((uplink + 5_000_001) % TMST_WRAP, uplink, 5) is None
    assert window(None, uplink, 5) is None  # "imme": not a class A window


def test_the_uplink_channel_comes_from_the_plan_and_an_unknown_plan_is_named() -> None:
    assert uplink_channel("EU_863_870_TTN") == (868.1, "SF7BW125", 5)
    assert uplink_channel("US_902_928_FSB_2") == (903.9, "SF7BW125", 3)
    with pytest.raises(ValueError, match=r"no uplink channel of plan 'AS_923'.*EU_863_870\*"):
        uplink_channel("AS_923")
