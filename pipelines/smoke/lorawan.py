"""LoRaWAN 1.0.3 frames of an OTAA class A device: the join, a data uplink, a downlink read.

LoRaWAN 1.0.3 specification, sections 4 (MAC message formats), 4.3.3 (FRMPayload
encryption), 4.4 (MIC) and 6.2 (over-the-air activation). The cryptography is AES-128 and
AES-CMAC from `cryptography`. Multi-byte fields are little-endian on air: EUIs are written
in reverse of the order people read them. Reading is strict, as in semtech.py: a frame
that is not exactly what this device may accept raises FrameError naming the field.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

JOIN_REQUEST: Final = 0x00  # MHDR: MType 000, Major LoRaWAN R1
JOIN_ACCEPT: Final = 0x20
UNCONFIRMED_UP: Final = 0x40
DOWNLINK_TYPES: Final = {0x60: "unconfirmed", 0xA0: "confirmed"}
UP, DOWN = 0, 1
MIC_SIZE: Final = 4
MAX_APP_PORT: Final = 223
BLOCK: Final = 16


class FrameError(ValueError):
    """A frame this device must not accept: wrong type, size, address, counter or MIC."""


def aes_encrypt(key: bytes, data: bytes) -> bytes:
    """AES-128 encryption of whole blocks (ECB: each block alone, as the spec uses it)."""
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
    return encryptor.update(data) + encryptor.finalize()


def cmac4(key: bytes, data: bytes) -> bytes:
    cmac = CMAC(algorithms.AES(key))
    cmac.update(data)
    return cmac.finalize()[:MIC_SIZE]


def join_request(app_key: bytes, join_eui: bytes, dev_eui: bytes, dev_nonce: int) -> bytes:
    """MHDR | JoinEUI | DevEUI | DevNonce | MIC, the MIC over the rest with the AppKey."""
    message = bytes([JOIN_REQUEST]) + join_eui[::-1] + dev_eui[::-1]
    message += struct.pack("<H", dev_nonce)
    return message + cmac4(app_key, message)


@dataclass(frozen=True)
class Session:
    """What a JoinAccept gives the device: its address, session keys and RX1 delay."""

    dev_addr: int
    nwk_s_key: bytes
    app_s_key: bytes
    rx1_delay: int  # seconds; RX2 opens one second later

    @property
    def dev_addr_hex(self) -> str:
        return f"{self.dev_addr:08X}"


def accept_join(phy: bytes, app_key: bytes, dev_nonce: int) -> Session:
    """Decrypt and verify a JoinAccept, and derive the 1.0.x session keys from it.

    The network encrypts with AES *decryption*, so the device decrypts with encryption.
    """
    if not phy or phy[0] != JOIN_ACCEPT:
        raise FrameError(f"not a JoinAccept: MHDR 0x{phy[:1].hex() or '(empty)'}")
    if len(phy) not in (1 + 12 + MIC_SIZE, 1 + 12 + BLOCK + MIC_SIZE):
        raise FrameError(f"JoinAccept of {len(phy)} bytes: a 1.0.x one has 17 or 33")
    plain = aes_encrypt(app_key, phy[1:])
    body, mic = plain[:-MIC_SIZE], plain[-MIC_SIZE:]
    if cmac4(app_key, phy[:1] + body) != mic:
        raise FrameError("JoinAccept MIC does not verify with the device's AppKey")
    app_nonce, net_id = body[0:3], body[3:6]
    (dev_addr,) = struct.unpack("<I", body[6:10])
    rx_delay = body[11] & 0x0F
    seed = app_nonce + net_id + struct.pack("<H", dev_nonce)
    pad = bytes(BLOCK - 1 - len(seed))
    return Session(
        dev_addr=dev_addr,
        nwk_s_key=aes_encrypt(app_key, b"\x01" + seed + pad),
        app_s_key=aes_encrypt(app_key, b"\x02" + seed + pad),
        rx1_delay=rx_delay or 1,  # 0 means 1 s
    )


def payload_cipher(key: bytes, direction: int, dev_addr: int, f_cnt: int, payload: bytes) -> bytes:
    """FRMPayload encryption (and decryption: the XOR is its own inverse), section 4.3.3."""
    blocks = (len(payload) + BLOCK - 1) // BLOCK
    counter = b"".join(
        struct.pack("<B4xBIIxB", 0x01, direction, dev_addr, f_cnt, i + 1) for i in range(blocks)
    )
    stream = aes_encrypt(key, counter)
    return bytes(a ^ b for a, b in zip(payload, stream, strict=False))


def frame_mic(key: bytes, direction: int, dev_addr: int, f_cnt: int, message: bytes) -> bytes:
    b0 = struct.pack("<B4xBIIxB", 0x49, direction, dev_addr, f_cnt, len(message))
    return cmac4(key, b0 + message)


def data_uplink(session: Session, f_cnt: int, f_port: int, payload: bytes) -> bytes:
    """An unconfirmed uplink on `f_port` (1..223) with its payload encrypted by the AppSKey."""
    if not 1 <= f_port <= MAX_APP_PORT:
        raise ValueError(f"FPort {f_port} is not an application port (1..223)")
    message = struct.pack("<BIBH", UNCONFIRMED_UP, session.dev_addr, 0, f_cnt & 0xFFFF)
    message += bytes([f_port])
    message += payload_cipher(session.app_s_key, UP, session.dev_addr, f_cnt, payload)
    return message + frame_mic(session.nwk_s_key, UP, session.dev_addr, f_cnt, message)


@dataclass(frozen=True)
class Downlink:
    """A data downlink this device accepted."""

    kind: str  # "unconfirmed" or "confirmed"
    f_cnt: int
    f_port: int | None  # None: MAC commands only
    payload: bytes  # decrypted FRMPayload (MAC commands when f_port is 0)
    f_opts: bytes


def read_downlink(session: Session, phy: bytes, min_f_cnt: int) -> Downlink:
    """Verify a data downlink for `session` whose FCnt is at least `min_f_cnt` and decrypt it.

    The 16-bit FCnt on air is widened to the smallest 32-bit counter >= min_f_cnt that ends
    in those bits; the MIC, computed over that counter, then proves it.
    """
    if len(phy) < 1 + 7 + MIC_SIZE:
        raise FrameError(f"data downlink of {len(phy)} bytes: the header and MIC alone are 12")
    kind = DOWNLINK_TYPES.get(phy[0])
    if kind is None:
        raise FrameError(f"not a data downlink: MHDR 0x{phy[0]:02x}")
    dev_addr, f_ctrl, f_cnt16 = struct.unpack("<IBH", phy[1:8])
    if dev_addr != session.dev_addr:
        raise FrameError(f"downlink for DevAddr {dev_addr:08X}, not {session.dev_addr_hex}")
    f_cnt = (min_f_cnt & ~0xFFFF) | f_cnt16
    if f_cnt < min_f_cnt:
        f_cnt += 0x10000
    message, mic = phy[:-MIC_SIZE], phy[-MIC_SIZE:]
    if frame_mic(session.nwk_s_key, DOWN, dev_addr, f_cnt, message) != mic:
        raise FrameError(
            f"downlink MIC does not verify for FCnt {f_cnt} (expected at least {min_f_cnt}): "
            "a wrong frame counter or key"
        )
    f_opts_end = 8 + (f_ctrl & 0x0F)
    f_opts, rest = message[8:f_opts_end], message[f_opts_end:]
    if len(f_opts) != f_ctrl & 0x0F:
        raise FrameError(f"FOptsLen {f_ctrl & 0x0F} is longer than the frame")
    if not rest:
        return Downlink(kind, f_cnt, None, b"", f_opts)
    f_port, encrypted = rest[0], rest[1:]
    key = session.nwk_s_key if f_port == 0 else session.app_s_key
    return Downlink(
        kind, f_cnt, f_port, payload_cipher(key, DOWN, dev_addr, f_cnt, encrypted), f_opts
    )
