"""The protocol stand-in of ttn-lw-stack v3.32, for CI machines that do not have the real binary.

Two behaviours, one server: `standin()` runs the model below as a process (as the smoke CLI
meets a real server), and `hostile(answers)` runs it in-process with canned HTTP answers
that a broken or hostile server could give (`ENDLESS` bodies too), while its UDP side stays
correct, so a probe's HTTP handling is what is on trial.

The reference is the real server: tests/realserver/ runs the same probes against a real
``ttn-lw-stack`` (``TTN_LW_STACK``), and every behaviour modelled here was seen there (see
docs/smoke.md). This model keeps the probes' own tests running where the binary cannot be
built. It is deliberately independent of pipelines.smoke (its own byte handling and JSON),
so a bug there is not mirrored here. It models, from lorawan-stack v3.32.0:

- UDP (pkg/gatewayserver/io/udp/udp.go): datagrams shorter than 4 bytes, of a packet type
  other than PUSH_DATA/PULL_DATA/TX_ACK, or without an 8-byte EUI are dropped (filterPacket,
  udp.go:206-238). The rate-limiting firewall drops the packet when the EUI's 10th-previous
  packet is less than 10 ms older (firewall_ratelimit.go:59-61). Accepted PUSH_DATA/PULL_DATA
  are acked with the request's version and token (writeAckFor, udp.go:267-271) BEFORE the
  connect (udp.go:273), which the model performs ``connect_delay`` seconds later.
- Connect: only a *registered* gateway connects. An unknown EUI is refused
  (``no_gateway_rights``: the real GS asks the IS with cluster auth and gets
  PermissionDenied, whatever the fallback frequency plan), and the refusal is remembered for
  the EUI (ConnectionErrorExpires), so registering it afterwards does not help for a while.
- HTTP (pkg/component/web.go): ``/healthz`` answers the hellofresh/health-go JSON with
  ``status`` OK; ``/metrics`` the Prometheus text with
  ``ttn_lw_gs_connected_gateways{protocol="udp"}`` (absent until the first connect) and the
  UDP message counters, which move whether or not the gateway connects.
- The API (api/ttn/lorawan/v3, under /api/v3, ``Authorization: Bearer <key>``):
  ``GET /auth_info``; ``POST /users/{id}/gateways`` (409 when the ID or EUI is taken);
  ``GET /gateways/{id}``;
  ``GET /gs/gateways/{id}/connection/stats`` (404 while not connected);
  ``DELETE /gateways/{id}`` and ``/gateways/{id}/purge``; a gateway's API keys (``POST`` and
  ``DELETE /gateways/{id}/api-keys``). One key, one admin user.
- Devices (tests/support/device_standin.py): applications, keys and OTAA devices, the join,
  uplinks to MQTT and downlinks from it, with ``--mqtt-port`` (a real mosquitto), and the
  faults of ``--device-fault``.

Run by hand: ``python -m tests.support.protocol_standin --api-key KEY``; it binds 127.0.0.1 on free
ports and prints ``READY http=<port> udp=<port>``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import secrets
import select
import ssl
import subprocess
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from anyio.abc import ByteStream, SocketAttribute, UDPSocket
from anyio.streams.tls import TLSListener

from pipelines.smoke import Target
from tests.support.device_standin import FAULTS, DeviceNetwork
from tests.support.paths import REPO_ROOT
from tests.support.servers import LOOPBACK, stop

PUSH_DATA, PUSH_ACK, PULL_DATA, PULL_RESP, PULL_ACK, TX_ACK = 0, 1, 2, 3, 4, 5
TYPE_NAMES = {PUSH_DATA: "PushData", PULL_DATA: "PullData", TX_ACK: "TxAck"}
RATE_MESSAGES, RATE_THRESHOLD = 10, 0.010
ADMIN = "admin"
# The one key the model accepts when started by standin() (TTS's key shape, not a secret).
STANDIN_API_KEY = "NNSXS.STANDINSTANDINSTANDIN.KEYKEYKEYKEYKEYKEYKEY"
# An Answer body that never ends (chunked, until the client hangs up).
ENDLESS = b"<endless>"


@dataclass(frozen=True)
class Answer:
    """A canned HTTP answer of hostile()."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


@dataclass
class GatewayServer:
    """The state the model keeps: registry, per-EUI rate windows, connections, counters."""

    api_key: str | None = None
    connect_delay: float = 0.05
    registered: dict[str, bytes] = field(default_factory=dict)  # gateway ID -> EUI
    windows: dict[bytes, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    connections: dict[bytes, str | None] = field(default_factory=dict)  # EUI -> error or None
    connected_at: dict[bytes, str] = field(default_factory=dict)
    connected: int | None = None  # gauge child absent until the first connect
    received: int = 0
    forwarded: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    devices: DeviceNetwork = field(default_factory=DeviceNetwork)
    downlink_path: dict[bytes, tuple[str, int]] = field(
        default_factory=dict
    )  # EUI -> PULL_DATA addr

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
        """Connect once per EUI; the outcome (or the refusal) is kept, as TTS keeps it."""
        if eui in self.connections:
            return
        self.connections[eui] = "pending"
        await anyio.sleep(self.connect_delay)
        if eui not in self.registered.values():
            self.connections[eui] = "no_gateway_rights"
            print(f"standin: connect eui-{eui.hex()} failed: no_gateway_rights", flush=True)
            return
        self.connections[eui] = None
        self.connected_at[eui] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.connected = (self.connected or 0) + 1

    def disconnect(self, eui: bytes) -> None:
        """Removing a gateway ends its connection (the GS re-checks on the next packet)."""
        if self.connections.pop(eui, "absent") is None and self.connected:
            self.connected -= 1
        self.connected_at.pop(eui, None)

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

    def api(  # noqa: PLR0911 - one return per modelled route
        self, method: str, path: str, auth: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """One API call: (status, JSON answer)."""
        if self.api_key is None or auth != f"Bearer {self.api_key}":
            return 401, {
                "code": 16,
                "message": "error:pkg/identityserver:api_key_not_found (API key not found)",
            }
        parts = path.removeprefix("/api/v3/").split("/")
        if method == "GET" and parts == ["auth_info"]:
            ids = {"user_ids": {"user_id": ADMIN}}
            return 200, {"api_key": {"entity_ids": ids, "api_key": {"id": "K"}}, "is_admin": True}
        if method == "POST" and parts == ["users", ADMIN, "gateways"]:
            return self.create(json.loads(body))
        stats = parts[:2] == ["gs", "gateways"] and parts[3:] == ["connection", "stats"]
        if method == "GET" and stats:
            eui = self.registered.get(parts[2])
            if eui is None or self.connections.get(eui, "absent") is not None:
                return 404, {"code": 5, "message": "error:pkg/gatewayserver:not_connected"}
            return 200, {"connected_at": self.connected_at[eui], "protocol": "udp"}
        if method == "GET" and parts[0] == "gateways" and len(parts) == 2:
            if parts[1] not in self.registered:
                return 404, {"code": 5, "message": "error:pkg/identityserver:gateway_not_found"}
            return 200, {"ids": {"gateway_id": parts[1]}}
        if parts[0] == "gateways" and parts[2:3] == ["api-keys"]:  # a Basic Station's link key
            link = {"id": "LINK", "key": "NNSXS.LINKLINKLINK.KEYKEYKEY"}
            return (200, link) if method == "POST" else (200, {})
        if method == "DELETE" and parts[0] == "gateways" and parts[2:] in ([], ["purge"]):
            eui = self.registered.pop(parts[1], None)
            if eui is None:
                return 404, {"code": 5, "message": "error:pkg/identityserver:gateway_not_found"}
            self.disconnect(eui)
            return 200, {}
        device_answer = self.devices.api(method, parts, body)
        if device_answer is not None:
            return device_answer
        return 404, {"code": 5, "message": "error:pkg/web:not_found"}

    def create(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /users/admin/gateways."""
        ids = request["gateway"]["ids"]
        eui = bytes.fromhex(ids["eui"])
        if ids["gateway_id"] in self.registered or eui in self.registered.values():
            return 409, {"code": 6, "message": "error:pkg/identityserver/store:id_taken"}
        if not request["gateway"].get("frequency_plan_ids"):
            return 400, {"code": 3, "message": "error:pkg/ttnpb:field_with_value"}
        self.registered[ids["gateway_id"]] = eui
        return 200, request["gateway"]


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
            if ptype == PULL_DATA:
                gs.downlink_path[eui] = (addr[0], addr[1])
            tg.start_soon(gs.connect, eui)
            if ptype == PUSH_DATA and gs.connections.get(eui, "absent") is None:
                for rxpk in json.loads(datagram[12:] or b"{}").get("rxpk", []):
                    send = _pull_resp(sock, gs.downlink_path.get(eui))
                    await gs.devices.uplink(base64.b64decode(rxpk["data"]), rxpk["tmst"], send)


def _pull_resp(sock: UDPSocket, path: tuple[str, int] | None) -> Any:
    """How a frame goes to the gateway: a PULL_RESP to its downlink path (none: dropped)."""

    async def send(phy: bytes, tmst: int) -> None:
        if path is None:
            return
        txpk = {"imme": False, "tmst": tmst % (1 << 32), "freq": 868.1, "rfch": 0, "powe": 14,
                "modu": "LORA", "datr": "SF7BW125", "codr": "4/5", "ipol": True,
                "size": len(phy), "data": base64.b64encode(phy).decode()}  # fmt: skip
        header = bytes([2]) + secrets.token_bytes(2) + bytes([PULL_RESP])
        await sock.sendto(header + json.dumps({"txpk": txpk}).encode(), path[0], path[1])

    return send


HEALTH = {
    "status": "OK",
    "timestamp": "2026-01-01T00:00:00Z",
    "system": {"version": "go1.23", "goroutines_count": 1},
    "component": {"name": "", "version": ""},
}


async def handle_http(
    gs: GatewayServer, stream: ByteStream, answers: dict[str, Answer] | None = None
) -> None:
    """Just enough HTTP/1.1 for the probes' calls; one request per connection. A path in
    `answers` gets that canned answer instead of the model's."""
    async with stream:
        request = b""
        with anyio.move_on_after(5):
            while b"\r\n\r\n" not in request and len(request) < 65536:
                request += await stream.receive()
            head, _, body = request.partition(b"\r\n\r\n")
            lines = head.decode(errors="replace").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            headers = {k.lower(): v for k, v in headers.items()}
            while len(body) < int(headers.get("content-length", "0")):
                body += await stream.receive()
        method, path = [*lines[0].split(" "), "", ""][:2]
        content_type = "application/json"
        if answers is not None:
            canned = answers.get(path, Answer(404, b"not found"))
            await _send_canned(stream, canned)
            return
        if path == "/healthz":
            status, text = 200, json.dumps(HEALTH)
        elif path == "/metrics":
            status, text, content_type = 200, gs.metrics(), "text/plain; version=0.0.4"
        elif path.startswith("/api/v3/"):
            code, answer = gs.api(method, path, headers.get("authorization", ""), body)
            status, text = code, json.dumps(answer)
        else:
            status, text = 404, "not found"
        data = text.encode()
        head_out = (
            f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        await stream.send(head_out.encode() + data)


async def _send_canned(stream: ByteStream, answer: Answer) -> None:
    head = f"HTTP/1.1 {answer.status} X\r\nContent-Type: {answer.content_type}\r\n"
    if answer.body != ENDLESS:
        length = f"Content-Length: {len(answer.body)}\r\nConnection: close\r\n\r\n"
        await stream.send((head + length).encode() + answer.body)
        return
    await stream.send((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
    chunk = b"x" * 65536
    while True:  # until the client hangs up
        await stream.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def _serving(gs: GatewayServer, answers: dict[str, Answer] | None = None) -> Any:
    """The connection handler: a client that went away (or refused our certificate) is not
    our problem."""

    async def handle(stream: ByteStream) -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.EndOfStream, OSError):
            await handle_http(gs, stream, answers)

    return handle


@contextlib.asynccontextmanager
async def hostile(answers: dict[str, Answer]) -> AsyncIterator[tuple[int, int]]:
    """(http port, udp port) of an in-process stand-in answering HTTP from `answers` (any
    other path: 404); its UDP side acks correctly. For the body of the block."""
    listener = await anyio.create_tcp_listener(local_host=LOOPBACK, local_port=0)
    sock = await anyio.create_udp_socket(local_host=LOOPBACK, local_port=0)
    gs = GatewayServer()
    async with listener, sock, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, _serving(gs, answers))
        tg.start_soon(serve_udp, gs, sock)
        http_port = listener.extra(SocketAttribute.local_port)  # noqa: S610 - anyio, not Django
        udp_port = sock.extra(SocketAttribute.local_port)  # noqa: S610 - anyio, not Django
        yield http_port, udp_port
        tg.cancel_scope.cancel()


async def main(args: argparse.Namespace) -> None:
    """Bind free loopback ports, announce them, serve until killed."""
    gs = GatewayServer(args.api_key, args.connect_delay)
    gs.devices = DeviceNetwork(args.device_fault, args.mqtt_port)
    for eui in args.registered:
        gs.registered[f"eui-{eui.lower()}"] = bytes.fromhex(eui)
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
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_udp, gs, sock)
        tg.start_soon(gs.devices.run_mqtt)
        await served.serve(_serving(gs))


@dataclass(frozen=True)
class Standin:
    """The model running as a process (standin())."""

    http_port: int
    udp_port: int
    proc: subprocess.Popen[str]

    def target(self, **changes: object) -> Target:
        return Target(host=LOOPBACK, http_port=self.http_port, udp_port=self.udp_port, **changes)  # type: ignore[arg-type]

    def metrics(self) -> str:
        return httpx.get(f"http://{LOOPBACK}:{self.http_port}/metrics").text

    def stop(self) -> None:
        stop(self.proc)


@contextlib.contextmanager
def standin(*args: str) -> Iterator[Standin]:
    """The model on free loopback ports, accepting STANDIN_API_KEY; always stopped afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", __name__, "--api-key", STANDIN_API_KEY, *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("READY "), f"stand-in did not start: {line!r}"
        ports = dict(item.split("=") for item in line.split()[1:])
        yield Standin(int(ports["http"]), int(ports["udp"]), proc)
    finally:
        stop(proc)


def smoke_cli(
    http_port: int, udp_port: int, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m pipelines.smoke` against loopback ports, as a user runs it."""
    argv = [sys.executable, "-m", "pipelines.smoke", "--host", LOOPBACK]
    argv += ["--http-port", str(http_port), "--udp-port", str(udp_port), *args]
    return subprocess.run(
        argv,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-key", help="the one API key the model accepts (admin user)")
    parser.add_argument("--registered", action="append", default=[], metavar="EUI",
                        help="a gateway registered from the start (16 hex digits)")  # fmt: skip
    parser.add_argument("--connect-delay", type=float, default=0.05)
    parser.add_argument("--tls-cert", help="PEM certificate: serve HTTPS instead of HTTP")
    parser.add_argument("--tls-key", help="PEM key for --tls-cert")
    parser.add_argument("--mqtt-port", type=int, help="the MQTT broker the model publishes to")
    parser.add_argument("--device-fault", choices=FAULTS, default="none",
                        help="what the device side gets wrong")  # fmt: skip
    try:
        anyio.run(main, parser.parse_args())
    except KeyboardInterrupt:
        sys.exit(0)
