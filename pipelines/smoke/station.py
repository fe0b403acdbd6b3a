"""The probe gateway as a LoRa Basic Station: the LNS protocol over websockets (`websockets`).

Semtech's LNS protocol as The Things Stack v3.32.0 serves it
(pkg/gatewayserver/io/semtechws, lbslns): the station asks ``/router-info`` which muxs to
use (``{"router": EUI}`` -> ``{"uri": …}``), connects there, says ``version`` and gets
``router_config``. It then sends the frames it hears as ``jreq`` and ``updf`` (the frame's
fields, not its bytes) and transmits each ``dnmsg`` (``pdu``: the frame's bytes), answering
``dntxed``. The Things Stack requires an ``Authorization`` header with a key that has the
gateway's link right, as a real station's ``tc.key``.

`xtime` is the station's clock (microseconds, a session ID in the top bits); a class A
``dnmsg`` is transmitted ``RxDelay`` seconds after its ``xtime`` (The Things Stack sends
the transmit time minus one second and ``RxDelay`` 1).
"""

from __future__ import annotations

import json
import ssl
import struct
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from pipelines.smoke.capped import json_object
from pipelines.smoke.polling import ProbeFailure
from pipelines.smoke.radio import Heard, uplink_channel
from pipelines.smoke.semtech import ProtocolError

SESSION: Final = 1 << 48  # xtime's session ID 1
MAX_MESSAGE: Final = 64 * 1024
HANDSHAKE_TIMEOUT: Final = 5.0
MIC_SIZE: Final = 4


def _eui(raw: bytes) -> str:
    """An on-air (little-endian) EUI as the LNS protocol writes it: AA-55-5A-…"""
    return "-".join(f"{b:02X}" for b in raw[::-1])


def _mic(phy: bytes) -> int:
    return int.from_bytes(phy[-MIC_SIZE:], "little", signed=True)


def frame_message(phy: bytes) -> dict[str, Any]:
    """The ``jreq`` or ``updf`` fields of a JoinRequest or data uplink."""
    if phy[0] == 0x00:  # JoinRequest
        (nonce,) = struct.unpack("<H", phy[17:19])
        return {"msgtype": "jreq", "MHdr": phy[0], "JoinEui": _eui(phy[1:9]),
                "DevEui": _eui(phy[9:17]), "DevNonce": nonce, "MIC": _mic(phy)}  # fmt: skip
    dev_addr, f_ctrl, f_cnt = struct.unpack("<iBH", phy[1:8])
    opts_end = 8 + (f_ctrl & 0x0F)
    rest = phy[opts_end:-MIC_SIZE]
    return {
        "msgtype": "updf", "MHdr": phy[0], "DevAddr": dev_addr, "FCtrl": f_ctrl, "FCnt": f_cnt,
        "FOpts": phy[8:opts_end].hex(), "FPort": rest[0] if rest else -1,
        "FRMPayload": rest[1:].hex(), "MIC": _mic(phy),
    }  # fmt: skip


class Station:
    """Send the device's frames as jreq/updf; receive the network's dnmsg."""

    def __init__(self, ws: Any, channel: tuple[float, str, int], where: str) -> None:
        self.ws, self.channel, self.where = ws, channel, where
        self.started = anyio.current_time()

    def xtime(self) -> int:
        return SESSION | int((anyio.current_time() - self.started) * 1_000_000)

    async def send(self, phy: bytes) -> int:
        """Hand the frame up; its `xtime`."""
        freq, _, data_rate = self.channel
        xtime = self.xtime()
        upinfo = {"rctx": 0, "xtime": xtime, "gpstime": 0, "rssi": -50, "snr": 9.5,
                  "rxtime": time.time()}  # fmt: skip
        message = {**frame_message(phy), "DR": data_rate, "Freq": int(freq * 1e6),
                   "RefTime": 0.0, "upinfo": upinfo}  # fmt: skip
        await _io(self.ws.send(json.dumps(message)), self.where)
        return xtime

    async def receive(self, seconds: float) -> Heard | None:
        """The next dnmsg within `seconds` (dntxed sent), else None."""
        with anyio.move_on_after(max(seconds, 0)):
            while True:
                message = _json(await _io(self.ws.recv(), self.where))
                if message.get("msgtype") != "dnmsg":
                    continue  # timesync, runcmd, …: nothing the probe needs
                try:
                    phy, xtime = bytes.fromhex(str(message["pdu"])), int(message["xtime"])
                    delay = int(message["RxDelay"])
                except (KeyError, ValueError, TypeError):
                    raise ProtocolError(
                        "dnmsg without a hex pdu, an xtime and an RxDelay"
                    ) from None
                sent = {"msgtype": "dntxed", "diid": message.get("diid", 0),
                        "DevEui": message.get("DevEui", ""), "rctx": message.get("rctx", 0),
                        "xtime": xtime, "txtime": 0.0, "gpstime": 0}  # fmt: skip
                await _io(self.ws.send(json.dumps(sent)), self.where)
                # The station transmits RxDelay seconds after xtime (its RX1).
                return Heard(phy, xtime + delay * 1_000_000, anyio.current_time())
        return None


async def _io(call: Any, where: str) -> Any:
    """A websocket call; a closed connection is a failure that names the peer."""
    try:
        return await call
    except ConnectionClosed as err:
        raise ProbeFailure(f"the LNS {where} closed the websocket ({err})") from None


def _json(raw: str | bytes) -> dict[str, Any]:
    """An LNS message as a JSON object (websockets already refuses more than MAX_MESSAGE)."""
    return json_object(raw.encode() if isinstance(raw, str) else raw, "LNS message")


async def _connect(uri: str, key: str, tls: ssl.SSLContext | None) -> Any:
    try:
        return await websockets.connect(
            uri, additional_headers={"Authorization": f"Bearer {key}"},
            open_timeout=HANDSHAKE_TIMEOUT, max_size=MAX_MESSAGE,
            ssl=tls if uri.startswith("wss://") else None,
        )  # fmt: skip
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as err:
        raise ProbeFailure(f"cannot open the websocket {uri}: {err}") from None


@asynccontextmanager
async def station(
    lns_uri: str, eui: bytes, plan: str, key: str, tls: ssl.SSLContext | None = None
) -> AsyncIterator[Station]:
    """Discover the muxs, connect, exchange version and router_config; closed on exit.
    `tls` verifies a wss:// LNS (default: the system roots)."""
    channel = uplink_channel(plan)
    where = f"{lns_uri}/router-info"
    info_ws = await _connect(where, key, tls)
    try:
        await _io(info_ws.send(json.dumps({"router": _eui(eui[::-1])})), where)
        with anyio.fail_after(HANDSHAKE_TIMEOUT):
            info = _json(await _io(info_ws.recv(), where))
    finally:
        await info_ws.close()
    if not isinstance(info.get("uri"), str):
        raise ProbeFailure(f"{where} gave no muxs: {str(info.get('error') or info)[:200]}")
    ws = await _connect(info["uri"], key, tls)
    try:
        gateway = Station(ws, channel, info["uri"])
        version = {"msgtype": "version", "station": "tts-ci smoke probe", "model": "tts-ci-probe",
                   "firmware": "", "package": "", "protocol": 2, "features": ""}  # fmt: skip
        await _io(ws.send(json.dumps(version)), gateway.where)
        with anyio.fail_after(HANDSHAKE_TIMEOUT):
            config = _json(await _io(ws.recv(), gateway.where))
        if config.get("msgtype") != "router_config":
            raise ProbeFailure(f"the LNS answered version with {config.get('msgtype')!r}")
        yield gateway
    finally:
        await ws.close()
