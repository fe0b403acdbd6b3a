"""The network's side of LoRaWAN 1.0.x frames, for tests: what a Join Server and a Network
Server send a device, and the bare uplinks the real-server tests send with an ABP session.

Built from the spec's primitives in pipelines/smoke/lorawan.py (AES, AES-CMAC, the B0 and
A_i blocks), not from the device's reading code: a test tampers with these frames to show
what the device probe refuses. The real ttn-lw-stack proves the primitives themselves
(tests/realserver: it accepts the probe's frames and the probe accepts its frames).
"""

from __future__ import annotations

import base64
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pipelines.smoke.lorawan import (
    DOWN,
    JOIN_ACCEPT,
    UNCONFIRMED_UP,
    Session,
    aes_encrypt,
    cmac4,
    frame_mic,
    payload_cipher,
)

UNCONFIRMED_DOWN = 0x60


def data_uplink(dev_addr: str, f_cnt: int, nwk_s_key: bytes) -> bytes:
    """An unconfirmed uplink without FPort (a MAC-only frame: nothing to encrypt)."""
    address = int(dev_addr, 16)
    message = struct.pack("<BIBH", UNCONFIRMED_UP, address, 0, f_cnt & 0xFFFF)
    return message + frame_mic(nwk_s_key, 0, address, f_cnt, message)


def rxpk(phy_payload: bytes, tmst: int) -> dict[str, object]:
    """The Semtech packet forwarder's `rxpk` entry for a frame heard on EU868 channel 0."""
    return {
        "tmst": tmst, "chan": 0, "rfch": 0, "freq": 868.1, "stat": 1, "modu": "LORA",
        "datr": "SF7BW125", "codr": "4/5", "rssi": -50, "lsnr": 9.5,
        "size": len(phy_payload), "data": base64.b64encode(phy_payload).decode(),
    }  # fmt: skip


def join_accept(
    app_key: bytes, dev_nonce: int, dev_addr: int, *, rx_delay: int = 5, app_nonce: int = 7
) -> tuple[bytes, Session]:
    """A JoinAccept (no CFList) as the Join Server sends it, and the session it makes.

    The network encrypts with AES decryption (spec 6.2.5), so the device can decrypt with
    the encryption it already has.
    """
    body = struct.pack("<I", app_nonce)[:3] + bytes.fromhex("000013") + struct.pack("<I", dev_addr)
    body += bytes([0, rx_delay])
    plain = body + cmac4(app_key, bytes([JOIN_ACCEPT]) + body)
    decryptor = Cipher(algorithms.AES(app_key), modes.ECB()).decryptor()  # noqa: S305
    phy = bytes([JOIN_ACCEPT]) + decryptor.update(plain) + decryptor.finalize()
    seed = body[:6] + struct.pack("<H", dev_nonce)
    pad = bytes(16 - 1 - len(seed))
    session = Session(
        dev_addr,
        nwk_s_key=aes_encrypt(app_key, b"\x01" + seed + pad),
        app_s_key=aes_encrypt(app_key, b"\x02" + seed + pad),
        rx1_delay=rx_delay,
    )
    return phy, session


def data_downlink(session: Session, f_cnt: int, f_port: int | None, payload: bytes) -> bytes:
    """An unconfirmed downlink: FRMPayload on `f_port` (None: no port, no payload)."""
    message = struct.pack("<BIBH", UNCONFIRMED_DOWN, session.dev_addr, 0, f_cnt & 0xFFFF)
    if f_port is not None:
        key = session.nwk_s_key if f_port == 0 else session.app_s_key
        message += bytes([f_port])
        message += payload_cipher(key, DOWN, session.dev_addr, f_cnt, payload)
    return message + frame_mic(session.nwk_s_key, DOWN, session.dev_addr, f_cnt, message)
