"""A hostile Things Stack for the probes: canned HTTP answers and a well-behaved UDP acker.

Each route answers with a status and a body, a body that never ends (chunked, forever), or a
body that trickles. UDP PUSH_DATA/PULL_DATA get a correct ack, so a probe's HTTP side is what
is on trial. Loopback only, free ports.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from anyio.abc import ByteStream, SocketAttribute

ENDLESS = b"<endless>"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


ACK_FOR = {0x00: 0x01, 0x02: 0x04}  # PUSH_DATA -> PUSH_ACK, PULL_DATA -> PULL_ACK


async def _ack_udp(sock: anyio.abc.UDPSocket) -> None:
    async for datagram, (host, port) in sock:
        if len(datagram) >= 12 and datagram[3] in ACK_FOR:
            await sock.sendto(datagram[:3] + bytes([ACK_FOR[datagram[3]]]), host, port)


async def _serve(routes: dict[str, Answer], stream: ByteStream) -> None:
    async with stream:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await stream.receive()
        path = request.split(b" ", 2)[1].decode()
        answer = routes.get(path, Answer(404, b"not found"))
        if answer.body == ENDLESS:
            await stream.send(
                f"HTTP/1.1 {answer.status} X\r\nContent-Type: {answer.content_type}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b"x" * 65536
            while True:  # until the client hangs up
                await stream.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await stream.send(
            f"HTTP/1.1 {answer.status} X\r\nContent-Type: {answer.content_type}\r\n"
            f"Content-Length: {len(answer.body)}\r\nConnection: close\r\n\r\n".encode()
            + answer.body
        )


@contextlib.asynccontextmanager
async def fake_tts(routes: dict[str, Answer]) -> AsyncIterator[tuple[int, int]]:
    """(http port, udp port) of a server answering `routes`, for the body of the block."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    sock = await anyio.create_udp_socket(local_host="127.0.0.1", local_port=0)

    async def handle(stream: ByteStream) -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.EndOfStream, OSError):
            await _serve(routes, stream)

    async with listener, sock, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        tg.start_soon(_ack_udp, sock)
        http_port = listener.extra(SocketAttribute.local_port)  # noqa: S610 - anyio, not Django
        udp_port = sock.extra(SocketAttribute.local_port)  # noqa: S610 - anyio, not Django
        yield http_port, udp_port
        tg.cancel_scope.cancel()
