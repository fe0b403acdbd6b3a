"""LoRaWAN 1.0.x frames a test device sends: enough to make the real server take an uplink.

LoRaWAN 1.0.3 specification, section 4 (MAC message formats) and 4.4 (MIC): the MIC is the
first four bytes of AES-CMAC(NwkSKey, B0 | MHDR..FRMPayload), B0 = 0x49, four zero bytes,
direction, DevAddr and FCnt little-endian, a zero byte and the message length.
"""

from __future__ import annotations

import base64
import struct

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

UNCONFIRMED_DATA_UP = 0x40  # MHDR: MType 010, Major LoRaWAN R1


def _mic(key: bytes, dev_addr: int, f_cnt: int, message: bytes) -> bytes:
    b0 = struct.pack("<B4xBIIxB", 0x49, 0, dev_addr, f_cnt, len(message))
    cmac = CMAC(algorithms.AES(key))
    cmac.update(b0 + message)
    return cmac.finalize()[:4]


def data_uplink(dev_addr: str, f_cnt: int, nwk_s_key: bytes) -> bytes:
    """An unconfirmed uplink without FPort (a MAC-only frame: nothing to encrypt)."""
    address = int(dev_addr, 16)
    message = struct.pack("<BIBH", UNCONFIRMED_DATA_UP, address, 0, f_cnt & 0xFFFF)
    return message + _mic(nwk_s_key, address, f_cnt, message)


def rxpk(phy_payload: bytes, tmst: int) -> dict[str, object]:
    """The Semtech packet forwarder's `rxpk` entry for a frame heard on EU868 channel 0."""
    return {
        "tmst": tmst, "chan": 0, "rfch": 0, "freq": 868.1, "stat": 1, "modu": "LORA",
        "datr": "SF7BW125", "codr": "4/5", "rssi": -50, "lsnr": 9.5,
        "size": len(phy_payload), "data": base64.b64encode(phy_payload).decode(),
    }  # fmt: skip
