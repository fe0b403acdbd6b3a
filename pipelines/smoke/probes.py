"""Async smoke probes for a running Things Stack: is it alive, and can a UDP gateway connect?

Three checks, polled concurrently until one shared deadline with capped exponential backoff:

- ``healthz``: ``GET /healthz`` on the HTTP port (1885) answers 200. It proves the process
  serves HTTP; TTS registers no health checks there, so it says nothing about Redis or SQL.
- ``udp-ack``: PULL_DATA then PUSH_DATA (with a ``stat`` object) from the gateway EUI, each
  answered by its PULL_ACK / PUSH_ACK carrying the same random token.
- ``gateway-connected``: TTS acks *before* it connects the gateway (lorawan-stack v3.32.0,
  pkg/gatewayserver/io/udp/udp.go:267-277: ``writeAckFor`` then ``s.connect``), and the
  connect fails without a fallback frequency plan for unregistered gateways
  (pkg/gatewayserver/gatewayserver.go:610-612, ``no_fallback_frequency_plan``). So an ack
  proves nothing about the connect; this check reads Prometheus ``/metrics`` instead.

Rate limit: TTS drops a gateway's packet when it is the 11th inside 10 ms for that EUI
(pkg/gatewayserver/io/udp/config.go:67-71, firewall_ratelimit.go:59-61), and a dropped
packet gets no ack. One attempt sends at most 3 datagrams and attempts are >= 100 ms apart,
so a probe run stays far below that.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import anyio
import httpx

from pipelines.smoke import semtech

DEFAULT_HOST: Final = "localhost"
DEFAULT_HTTP_PORT: Final = 1885
DEFAULT_UDP_PORT: Final = 1700
# The gateway_ID of Semtech's sample global_conf.json: obviously a test gateway.
DEFAULT_GATEWAY_EUI: Final = "AA555A0000000000"
DEFAULT_DEADLINE: Final = 30.0

# The "gateway connected" signal. lorawan-stack v3.32.0 pkg/gatewayserver/observability.go:131-138
# defines the gauge vec (namespace "ttn_lw" from pkg/metrics/metrics.go:26, subsystem "gs",
# name "connected_gateways", label "protocol"); observability.go:317 increments it in
# registerGatewayConnect, which gatewayserver.go:659 calls only after Connect has found the
# gateway (or applied the fallback frequency plan) and built the connection; :322 decrements
# it on disconnect. The UDP frontend's protocol is "udp" (io/udp/udp.go:63). Its sibling
# ttn_lw_gs_io_udp_message_forwarded_total moves before the connect (udp.go:258): wrong signal.
CONNECTED_METRIC: Final = "ttn_lw_gs_connected_gateways"
CONNECTED_PROTOCOL: Final = "udp"
# pkg/component/web.go:37: the basic-auth user when http.metrics.password is set.
METRICS_USER: Final = "metrics"

CHECKS: Final = ("healthz", "udp-ack", "gateway-connected")
ATTEMPT_TIMEOUT: Final = 2.0  # longest single attempt
MIN_ATTEMPT_TIMEOUT: Final = 0.25  # what the last attempt at the deadline still gets


@dataclass(frozen=True)
class Target:
    """Where the stack listens and how to talk to it."""

    host: str = DEFAULT_HOST
    http_port: int = DEFAULT_HTTP_PORT
    # Gateways may reach another address than HTTP (a UDP load balancer vs an ingress).
    udp_host: str | None = None
    udp_port: int = DEFAULT_UDP_PORT
    gateway_eui: bytes = bytes.fromhex(DEFAULT_GATEWAY_EUI)
    https: bool = False
    ca_bundle: Path | None = None
    insecure: bool = False
    metrics_password: str | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """http(s)://host:port, IPv6 literals bracketed."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.https else 'http'}://{host}:{self.http_port}"

    @property
    def udp_address(self) -> str:
        """Where the Semtech UDP probe sends: udp_host, else host."""
        return self.udp_host or self.host


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: initial, times factor, capped."""

    initial: float = 0.1
    factor: float = 2.0
    cap: float = 2.0

    def delays(self) -> Iterator[float]:
        """The endless delay sequence."""
        delay = self.initial
        while True:
            yield min(delay, self.cap)
            delay *= self.factor


@dataclass(frozen=True)
class Attempt:
    """One attempt of one check; `at` is seconds since the run started."""

    check: str
    number: int
    ok: bool
    detail: str
    at: float


@dataclass
class CheckResult:
    """A check's outcome: the last attempt's detail and every attempt made."""

    name: str
    ok: bool
    detail: str
    elapsed: float
    attempts: list[Attempt]


class ProbeFailure(Exception):
    """An attempt got an answer, but the wrong one."""


_FAILURES = (
    ProbeFailure,
    semtech.ProtocolError,
    OSError,
    httpx.HTTPError,
    anyio.BrokenResourceError,
)


def http_client(target: Target) -> httpx.AsyncClient:
    """One client for the run, verifying TLS against the CA bundle unless insecure."""
    verify: ssl.SSLContext | bool = not target.insecure
    if target.ca_bundle is not None:
        verify = ssl.create_default_context(cafile=str(target.ca_bundle))
    return httpx.AsyncClient(base_url=target.base_url, verify=verify, timeout=ATTEMPT_TIMEOUT)


async def check_healthz(target: Target, client: httpx.AsyncClient) -> str:
    """GET /healthz must answer 200."""
    response = await client.get("/healthz")
    if response.status_code != httpx.codes.OK:
        raise ProbeFailure(f"GET /healthz answered {response.status_code}, expected 200")
    return f"GET {target.base_url}/healthz answered 200"


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


def metric_value(exposition: str, name: str, labels: dict[str, str]) -> float | None:
    """Sum of `name` samples whose labels include `labels`; None when there is none.

    TTS may prepend context labels (pkg/metrics ContextLabelNames), hence "include".
    """
    total, found = 0.0, False
    for line in exposition.splitlines():
        match = _SAMPLE.match(line)
        if match is None or match["name"] != name:
            continue
        have = dict(_LABEL.findall(match["labels"] or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(match["value"])
            found = True
    return total if found else None


_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


async def check_gateway_connected(target: Target, client: httpx.AsyncClient) -> str:
    """Announce the gateway (PULL_DATA), then require the UDP connected-gateways gauge >= 1.

    The PULL_DATA is sent on every attempt: the connect happens after the ack, and a UDP
    connection expires after 3 minutes without traffic (io/udp/config.go:63).
    """
    try:
        await udp_exchange(target, [semtech.pull_data(target.gateway_eui)])
    except _FAILURES as err:
        raise ProbeFailure(f"could not announce the gateway: {_describe(err)}") from err
    auth = None if target.metrics_password is None else (METRICS_USER, target.metrics_password)
    response = await client.get("/metrics", auth=auth)
    if response.status_code != httpx.codes.OK:
        raise ProbeFailure(f"GET /metrics answered {response.status_code}, expected 200")
    series = f'{CONNECTED_METRIC}{{protocol="{CONNECTED_PROTOCOL}"}}'
    value = metric_value(response.text, CONNECTED_METRIC, {"protocol": CONNECTED_PROTOCOL})
    if not value:
        state = "absent" if value is None else "0"
        raise ProbeFailure(
            f"{series} is {state}: UDP acked but no gateway connected "
            "(no fallback frequency plan on gs.udp.listeners, or gateway not registered?)"
        )
    return f"{series} = {value:g}"


def _describe(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, ProbeFailure):
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


async def _poll(
    name: str,
    attempt: Callable[[], Awaitable[str]],
    deadline: float,
    started: float,
    backoff: Backoff,
    on_attempt: Callable[[Attempt], None],
) -> CheckResult:
    attempts: list[Attempt] = []
    delays = backoff.delays()
    while True:
        timeout = min(ATTEMPT_TIMEOUT, max(deadline - anyio.current_time(), MIN_ATTEMPT_TIMEOUT))
        ok, detail = False, f"no answer within {timeout:.2f} s"
        with anyio.move_on_after(timeout):
            try:
                detail, ok = await attempt(), True
            except _FAILURES as err:
                detail = _describe(err)
        now = anyio.current_time()
        attempts.append(Attempt(name, len(attempts) + 1, ok, detail, round(now - started, 3)))
        on_attempt(attempts[-1])
        if ok or now >= deadline:
            return CheckResult(name, ok, detail, round(now - started, 3), attempts)
        await anyio.sleep(min(next(delays), deadline - now))


async def run_checks(
    target: Target,
    deadline: float = DEFAULT_DEADLINE,
    *,
    backoff: Backoff = Backoff(),
    on_attempt: Callable[[Attempt], None] = lambda _: None,
    checks: Sequence[str] = CHECKS,
) -> list[CheckResult]:
    """Poll the checks concurrently for up to `deadline` seconds; results in CHECKS order.

    Each check makes at least one attempt; the last one starts no later than the deadline
    and gets at least MIN_ATTEMPT_TIMEOUT, so a run ends within deadline + 0.25 s (+ I/O).
    """
    if deadline < 0:
        raise ValueError(f"deadline {deadline} is negative")
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown or not checks:
        raise ValueError(f"unknown or no checks {unknown}: choose from {', '.join(CHECKS)}")
    started = anyio.current_time()
    results: dict[str, CheckResult] = {}
    async with http_client(target) as client:
        probes: dict[str, Callable[[], Awaitable[str]]] = {
            "healthz": lambda: check_healthz(target, client),
            "udp-ack": lambda: check_udp_ack(target),
            "gateway-connected": lambda: check_gateway_connected(target, client),
        }

        async def run(name: str) -> None:
            results[name] = await _poll(
                name, probes[name], started + deadline, started, backoff, on_attempt
            )

        async with anyio.create_task_group() as tg:
            for name in CHECKS:
                if name in checks:
                    tg.start_soon(run, name)
    return [results[name] for name in CHECKS if name in checks]
