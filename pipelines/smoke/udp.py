"""The Semtech UDP side of the smoke: acks for PULL_DATA/PUSH_DATA, and announcing the gateway."""

from __future__ import annotations

import anyio

from pipelines.smoke import semtech
from pipelines.smoke.polling import FAILURES, ProbeFailure, describe
from pipelines.smoke.target import Target


async def udp_exchange(target: Target, requests: list[semtech.Packet]) -> None:
    """Send each request and require its ack (same token) before sending the next."""
    async with await anyio.create_connected_udp_socket(
        remote_host=target.udp_address, remote_port=target.udp_port
    ) as sock:
        for request in requests:
            await sock.send(semtech.encode(request))
            while True:
                datagram = await sock.receive()
                # A well-formed PULL_RESP is legitimate downlink traffic on this socket.
                if _is_pull_resp(datagram, request.version):
                    continue
                semtech.decode_reply(datagram, request)
                break


def _is_pull_resp(datagram: bytes, version: int) -> bool:
    try:
        return semtech.decode(datagram, version=version).type is semtech.PacketType.PULL_RESP
    except semtech.ProtocolError:
        return False


async def check_udp_ack(target: Target) -> str:
    """PULL_DATA and PUSH_DATA(stat) must each get their ack with our token."""
    eui = target.gateway_eui
    await udp_exchange(target, [semtech.pull_data(eui), semtech.push_data(eui)])
    return (
        f"PULL_ACK and PUSH_ACK from {target.udp_address}:{target.udp_port} for {eui.hex().upper()}"
    )


async def announce(target: Target) -> None:
    """One PULL_DATA: the GS connects a UDP gateway on its traffic, after the ack.

    Sent on every attempt: a UDP connection expires after 3 minutes without traffic
    (io/udp/config.go:63).
    """
    try:
        await udp_exchange(target, [semtech.pull_data(target.gateway_eui)])
    except FAILURES as err:
        raise ProbeFailure(f"could not announce the gateway: {describe(err)}") from err
