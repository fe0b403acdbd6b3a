"""A protocol model of ttn-lw-stack's gateway server, standing in for the real binary.

Why a model: ``ttn-lw-stack`` cannot be built on these machines (the Go module proxy refuses
its dependencies on go.thethings.network, go.packetbroker.org and go.thethings.industries),
so the smoke probes are proven here against this model of TTS's *documented* behaviour,
read from lorawan-stack v3.32.0. It is deliberately independent of pipelines.smoke.semtech
(its own byte handling), so a codec bug is not mirrored on both sides. It models:

- UDP (pkg/gatewayserver/io/udp/udp.go): datagrams shorter than 4 bytes, of a packet type
  other than PUSH_DATA/PULL_DATA/TX_ACK, or without an 8-byte EUI are dropped (filterPacket,
  udp.go:206-238; pkg/ttnpb/udp/packet.go UnmarshalBinary). The rate-limiting firewall drops
  the packet when the EUI's 10th-previous packet is less than 10 ms older
  (firewall_ratelimit.go:59-61, config.go:67-71). Accepted PUSH_DATA/PULL_DATA are acked
  with the request's version and token (writeAckFor, udp.go:267-271) BEFORE the connect
  (udp.go:273), which the model performs ``connect_delay`` seconds later (the real one looks
  the gateway up in the registry). A failed connect is cached for the EUI
  (ConnectionErrorExpires, 5 min), so later packets are still acked but never connect.
- Connect (pkg/gatewayserver/gatewayserver.go:606-612): an unregistered gateway connects only
  with a fallback frequency plan; otherwise ``no_fallback_frequency_plan``.
- HTTP (pkg/component/web.go:99,111): ``/healthz`` answers 200 and ``/metrics`` the
  Prometheus text with ``ttn_lw_gs_connected_gateways{protocol="udp"}`` (a gauge vec whose
  child appears on the first connect, observability.go:131-138,317) and the UDP message
  counters (io/udp/observability.go), which move whether or not the gateway connects.

Not modelled: registered gateways, downlinks, connection expiry, Redis/SQL, the API.

Run by hand: ``python -m tests.integration.tts_standin --fallback-frequency-plan EU_863_870``;
it binds 127.0.0.1 on free ports and prints ``READY http=<port> udp=<port>``.
"""

from __future__ import annotations

import argparse
import contextlib
import ssl
import sys
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

import anyio
from anyio.abc import ByteStream, UDPSocket
from anyio.streams.tls import TLSListener

PUSH_DATA, PUSH_ACK, PULL_DATA, PULL_ACK, TX_ACK = 0, 1, 2, 4, 5
TYPE_NAMES = {PUSH_DATA: "PushData", PULL_DATA: "PullData", TX_ACK: "TxAck"}
RATE_MESSAGES, RATE_THRESHOLD = 10, 0.010


@dataclass
class GatewayServer:
    """The state the model keeps: per-EUI rate-limit windows, connections, counters."""

    fallback_frequency_plan: str | None
    connect_delay: float = 0.05
    windows: dict[bytes, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    connections: dict[bytes, str | None] = field(default_factory=dict)  # EUI -> error or None
    connected: int | None = None  # gauge child absent until the first connect
    received: int = 0
    forwarded: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)

    def filter(self, datagram: bytes) -> tuple[int, bytes] | None:
        """(packet type, EUI) of an accepted uplink datagram; None when dropped."""
        self.received += 1
        if len(datagram) < 4:
            self.dropped["unknown"] += 1  # io.EOF
            return None
        ptype = datagram[3]
        if ptype not in TYPE_NAMES:
            self.dropped["pkg/gatewayserver/io/udp:packet_type"] += 1
            return None
        if len(datagram) < 12:
            self.dropped["pkg/ttnpb/udp:no_eui"] += 1
            return None
        eui = datagram[4:12]
        window, now = self.windows[eui], time.monotonic()
        window.append(now)
        if len(window) > RATE_MESSAGES:
            oldest = window.popleft()
            if now - oldest < RATE_THRESHOLD:
                self.dropped["pkg/gatewayserver/io/udp:rate_exceeded"] += 1
                return None
        self.forwarded[TYPE_NAMES[ptype]] += 1
        return ptype, eui

    async def connect(self, eui: bytes) -> None:
        """Connect once per EUI; the outcome (or error) is kept, as TTS keeps its state."""
        if eui in self.connections:
            return
        self.connections[eui] = "pending"
        await anyio.sleep(self.connect_delay)
        if self.fallback_frequency_plan is None:
            self.connections[eui] = "no_fallback_frequency_plan"
            print(f"standin: connect {eui.hex()} failed: no_fallback_frequency_plan", flush=True)
            return
        self.connections[eui] = None
        self.connected = (self.connected or 0) + 1

    def metrics(self) -> str:
        """The Prometheus text exposition of the modelled series."""
        lines = [
            "# HELP ttn_lw_gs_connected_gateways Number of currently connected gateways",
            "# TYPE ttn_lw_gs_connected_gateways gauge",
        ]
        if self.connected is not None:
            lines.append(f'ttn_lw_gs_connected_gateways{{protocol="udp"}} {self.connected}')
        lines += [
            "# TYPE ttn_lw_gs_io_udp_message_received_total counter",
            f"ttn_lw_gs_io_udp_message_received_total {self.received}",
            "# TYPE ttn_lw_gs_io_udp_message_forwarded_total counter",
            *(
                f'ttn_lw_gs_io_udp_message_forwarded_total{{type="{t}"}} {n}'
                for t, n in sorted(self.forwarded.items())
            ),
            "# TYPE ttn_lw_gs_io_udp_message_dropped_total counter",
            *(
                f'ttn_lw_gs_io_udp_message_dropped_total{{error="{e}"}} {n}'
                for e, n in sorted(self.dropped.items())
            ),
        ]
        return "\n".join(lines) + "\n"


async def serve_udp(gs: GatewayServer, sock: UDPSocket) -> None:
    """Ack, then connect in the background, as udp.go handlePacket does."""
    async with anyio.create_task_group() as tg:
        async for datagram, addr in sock:
            accepted = gs.filter(datagram)
            if accepted is None:
                continue
            ptype, eui = accepted
            if ptype in (PUSH_DATA, PULL_DATA):
                ack = PUSH_ACK if ptype == PUSH_DATA else PULL_ACK
                await sock.sendto(datagram[:3] + bytes([ack]), addr[0], addr[1])
            tg.start_soon(gs.connect, eui)


async def handle_http(gs: GatewayServer, stream: ByteStream) -> None:
    """Just enough HTTP/1.1 for GET /healthz and GET /metrics; one request per connection."""
    async with stream:
        request = b""
        with anyio.move_on_after(5):
            while b"\r\n\r\n" not in request and len(request) < 65536:
                request += await stream.receive()
        parts = request.split(b" ", 2)
        path = parts[1].decode(errors="replace") if len(parts) > 1 else ""
        if path == "/healthz":
            status, body = "200 OK", "OK"
        elif path == "/metrics":
            status, body = "200 OK", gs.metrics()
        else:
            status, body = "404 Not Found", "not found"
        data = body.encode()
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        await stream.send(head.encode() + data)


async def main(args: argparse.Namespace) -> None:
    """Bind free loopback ports, announce them, serve until killed."""
    gs = GatewayServer(args.fallback_frequency_plan, args.connect_delay)
    sock = await anyio.create_udp_socket(local_host="127.0.0.1", local_port=0)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    http_port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - not Django
    udp_port = sock.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - not Django
    served: anyio.abc.Listener[anyio.abc.ByteStream] = listener
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        served = TLSListener(listener, context, standard_compatible=False)
    print(f"READY http={http_port} udp={udp_port}", flush=True)

    async def handle(stream: anyio.abc.ByteStream) -> None:
        # A client that went away (or refused our certificate) is not our problem.
        with contextlib.suppress(anyio.BrokenResourceError, anyio.EndOfStream, OSError):
            await handle_http(gs, stream)

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_udp, gs, sock)
        await served.serve(handle)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fallback-frequency-plan", help="e.g. EU_863_870; omit to model none")
    parser.add_argument("--connect-delay", type=float, default=0.05)
    parser.add_argument("--tls-cert", help="PEM certificate: serve HTTPS instead of HTTP")
    parser.add_argument("--tls-key", help="PEM key for --tls-cert")
    try:
        anyio.run(main, parser.parse_args())
    except KeyboardInterrupt:
        sys.exit(0)
