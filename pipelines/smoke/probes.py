"""Async smoke probes for a running Things Stack: is it alive, and can a UDP gateway connect?

Three checks, polled concurrently until one shared deadline with capped exponential backoff:

- ``healthz``: ``GET /healthz`` on the HTTP port (1885) answers 200 with the health JSON
  (hellofresh/health-go, lorawan-stack v3.32.0 pkg/healthcheck) whose ``status`` is ``OK``.
  TTS registers no health checks there: it proves the process serves HTTP, not Redis or SQL.
- ``udp-ack``: PULL_DATA then PUSH_DATA (with a ``stat`` object) from the gateway EUI, each
  answered by its PULL_ACK / PUSH_ACK carrying the same random token.
- ``gateway-connected``: TTS acks *before* it connects the gateway (lorawan-stack v3.32.0,
  pkg/gatewayserver/io/udp/udp.go:267-277: ``writeAckFor`` then ``s.connect``), so an ack
  proves nothing about the connect. And a real v3.32 refuses an *unregistered* gateway
  (``no_gateway_rights``) even with a fallback frequency plan. With an API key the probe
  registers its own gateway first (``register``), asks the Gateway Server about exactly that
  gateway, and removes it at the end (``unregister``), also when a check failed. Without a
  key it reads the server-wide gauge on Prometheus ``/metrics``.

Rate limit: TTS drops a gateway's packet when it is the 11th inside 10 ms for that EUI
(pkg/gatewayserver/io/udp/config.go:67-71, firewall_ratelimit.go:59-61), and a dropped
packet gets no ack. One attempt sends at most 3 datagrams and attempts are >= 100 ms apart,
so a probe run stays far below that.
"""

from __future__ import annotations

import math
import re
import ssl
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import anyio
import httpx

from pipelines.smoke import registry, semtech
from pipelines.smoke.capped import AnswerError, json_object, read_capped

DEFAULT_HOST: Final = "localhost"
DEFAULT_HTTP_PORT: Final = 1885
DEFAULT_UDP_PORT: Final = 1700
# The gateway_ID of Semtech's sample global_conf.json: obviously a test gateway.
DEFAULT_GATEWAY_EUI: Final = "AA555A0000000000"
DEFAULT_DEADLINE: Final = 30.0

# The "gateway connected" signal without an API key. lorawan-stack v3.32.0
# pkg/gatewayserver/observability.go:131-138 defines the gauge vec (namespace "ttn_lw" from
# pkg/metrics/metrics.go:26, subsystem "gs", name "connected_gateways", label "protocol");
# observability.go:317 increments it in registerGatewayConnect, which gatewayserver.go:659
# calls only after Connect has found the gateway and built the connection; :322 decrements
# it on disconnect. The UDP frontend's protocol is "udp" (io/udp/udp.go:63). Its sibling
# ttn_lw_gs_io_udp_message_forwarded_total moves before the connect (udp.go:258): wrong signal.
CONNECTED_METRIC: Final = "ttn_lw_gs_connected_gateways"
CONNECTED_PROTOCOL: Final = "udp"
# pkg/component/web.go:37: the basic-auth user when http.metrics.password is set.
METRICS_USER: Final = "metrics"

CHECKS: Final = ("healthz", "udp-ack", "gateway-connected")
# With an API key: the steps around the UDP checks, in report order.
STEPS: Final = ("healthz", "register", "udp-ack", "gateway-connected", "unregister")
ATTEMPT_TIMEOUT: Final = 2.0  # longest single attempt
MIN_ATTEMPT_TIMEOUT: Final = 0.25  # what the last attempt at the deadline still gets
CLEANUP_DEADLINE: Final = 15.0  # removing the probe gateway, after the checks' deadline
# What a probe reads at most: the health JSON is ~0.3 KiB; a real v3.32 /metrics ~660 KiB.
MAX_HEALTHZ_BODY: Final = 64 * 1024
MAX_METRICS_BODY: Final = 4 * 1024 * 1024
HEALTH_STATUS_OK: Final = "OK"


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
    # With a key the probe registers its gateway on this plan (the deployment's).
    api_key: str | None = field(default=None, repr=False)
    frequency_plan: str | None = None

    def __post_init__(self) -> None:
        if self.api_key is not None and not self.frequency_plan:
            raise ValueError("registering the probe gateway needs its frequency plan")

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


class ProbeFailure(AnswerError):
    """An attempt got an answer, but the wrong one."""


_FAILURES = (
    AnswerError,  # ProbeFailure, registry.RegistryError
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


async def http_get(
    client: httpx.AsyncClient, path: str, limit: int, auth: tuple[str, str] | None = None
) -> bytes:
    """GET `path`: its body (at most `limit` bytes) when it answers 200, else ProbeFailure."""
    async with client.stream("GET", path, auth=auth) as response:
        if response.status_code != httpx.codes.OK:
            raise ProbeFailure(f"GET {path} answered {response.status_code}, expected 200")
        return await read_capped(response, limit, f"GET {path}")


async def check_healthz(target: Target, client: httpx.AsyncClient) -> str:
    """GET /healthz must answer 200 with the health JSON, status OK."""
    health = json_object(await http_get(client, "/healthz", MAX_HEALTHZ_BODY), "GET /healthz")
    status = health.get("status")
    if status != HEALTH_STATUS_OK:
        raise ProbeFailure(
            f"GET /healthz answered 200 but its status is {status!r}, expected "
            f"{HEALTH_STATUS_OK!r} (failures: {str(health.get('failures') or '-')[:200]})"
        )
    return f"GET {target.base_url}/healthz answered 200, status OK"


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


# Prometheus text exposition 0.0.4: `name{label="value",...} value [timestamp]`.
_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?"
    r"[ \t]+(?P<value>\S+)(?:[ \t]+-?\d+)?[ \t]*$"
)
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\.)*)"\s*(?:,|$)')


def _labels(text: str) -> dict[str, str] | None:
    """The label set of `{...}`, or None when it is not well formed."""
    labels, pos = {}, 0
    while pos < len(text.rstrip()):
        match = _LABEL.match(text, pos)
        if match is None:
            return None
        labels[match[1]] = match[2]
        pos = match.end()
    return labels


def metric_value(exposition: str, name: str, labels: dict[str, str]) -> float | None:
    """Sum of `name` samples whose labels include `labels`; None when there is none.

    Every sample line must parse, or ProbeFailure names the first one that does not: a
    probe must not read a number out of something that is not Prometheus text.
    TTS may prepend context labels (pkg/metrics ContextLabelNames), hence "include".
    """
    total, found = 0.0, False
    for number, line in enumerate(exposition.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SAMPLE.match(line)
        have = None if match is None else _labels(match["labels"] or "")
        try:
            value = float(match["value"]) if match is not None else math.nan
        except ValueError:
            match = None
        if match is None or have is None:
            raise ProbeFailure(f"/metrics line {number} is not Prometheus text: {line[:80]!r}")
        if match["name"] == name and all(have.get(k) == v for k, v in labels.items()):
            total += value
            found = True
    return total if found else None


def _count(value: float) -> int | None:
    """`value` as a gateway count: a finite whole number >= 0, else None."""
    if not math.isfinite(value) or value < 0 or value != math.floor(value):
        return None
    return int(value)


async def announce(target: Target) -> None:
    """One PULL_DATA: the GS connects a UDP gateway on its traffic, after the ack.

    Sent on every attempt: a UDP connection expires after 3 minutes without traffic
    (io/udp/config.go:63).
    """
    try:
        await udp_exchange(target, [semtech.pull_data(target.gateway_eui)])
    except _FAILURES as err:
        raise ProbeFailure(f"could not announce the gateway: {_describe(err)}") from err


async def check_gateway_connected(target: Target, client: httpx.AsyncClient) -> str:
    """Announce the gateway, then require the UDP connected-gateways gauge >= 1 (no API key)."""
    await announce(target)
    auth = None if target.metrics_password is None else (METRICS_USER, target.metrics_password)
    raw = await http_get(client, "/metrics", MAX_METRICS_BODY, auth)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProbeFailure("GET /metrics: the body is not UTF-8 text") from None
    series = f'{CONNECTED_METRIC}{{protocol="{CONNECTED_PROTOCOL}"}}'
    value = metric_value(text, CONNECTED_METRIC, {"protocol": CONNECTED_PROTOCOL})
    if value is not None and _count(value) is None:
        raise ProbeFailure(f"{series} is {value!r}: not a count of gateways")
    if not value:
        state = "absent" if value is None else "0"
        raise ProbeFailure(
            f"{series} is {state}: UDP acked but no gateway connected. The Things Stack "
            "refuses unregistered gateways (no_gateway_rights): give the probe an API key "
            "(TTS_API_KEY or --api-key-file) so it registers its own gateway"
        )
    return f"{series} = {value:g}"


def _describe(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, AnswerError):
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


@dataclass(frozen=True)
class _Poller:
    """Polls attempts of one step with backoff until it passes or the deadline passes."""

    started: float
    backoff: Backoff
    on_attempt: Callable[[Attempt], None]

    async def __call__(
        self,
        name: str,
        attempt: Callable[[], Awaitable[str]],
        deadline: float,
        attempt_timeout: float = ATTEMPT_TIMEOUT,
    ) -> CheckResult:
        attempts: list[Attempt] = []
        delays = self.backoff.delays()
        while True:
            budget = max(deadline - anyio.current_time(), MIN_ATTEMPT_TIMEOUT)
            timeout = min(attempt_timeout, budget)
            ok, final, detail = False, False, f"no answer within {timeout:.2f} s"
            with anyio.move_on_after(timeout):
                try:
                    detail, ok = await attempt(), True
                except _FAILURES as err:
                    detail, final = _describe(err), getattr(err, "final", False)
            now = anyio.current_time()
            at = round(now - self.started, 3)
            attempts.append(Attempt(name, len(attempts) + 1, ok, detail, at))
            self.on_attempt(attempts[-1])
            if ok or final or now >= deadline:
                return CheckResult(name, ok, detail, at, attempts)
            await anyio.sleep(min(next(delays), deadline - now))

    def not_run(self, name: str, why: str) -> CheckResult:
        """A step that could not run: one failed attempt that says why."""
        at = round(anyio.current_time() - self.started, 3)
        attempt = Attempt(name, 1, False, why, at)
        self.on_attempt(attempt)
        return CheckResult(name, False, why, at, [attempt])


@dataclass
class _Registration:
    """The probe gateway's life in one run: who owns the key, create, remove."""

    client: httpx.AsyncClient
    target: Target
    api_key: str
    owner: registry.Owner | None = None
    create_sent: bool = False
    gateway: registry.ProbeGateway | None = None

    async def register(self) -> str:
        """One attempt at registering; a create whose answer was lost is adopted on retry."""
        plan, eui = self.target.frequency_plan or "", self.target.gateway_eui
        if self.owner is None:
            self.owner = await registry.whoami(self.client, self.api_key)
        sent_before, self.create_sent = self.create_sent, True
        self.gateway = await registry.create(
            self.client, self.api_key, self.owner, eui, plan, ours_if_exists=sent_before
        )
        return (
            f"gateway {self.gateway.gateway_id} (EUI {eui.hex().upper()}, plan {plan}) "
            f"registered for {self.owner.kind[:-1]} {self.owner.id}"
        )

    async def connected(self) -> str:
        """Announce the gateway, then ask the Gateway Server about exactly this gateway."""
        assert self.gateway is not None  # run only once registered
        await announce(self.target)
        return await registry.connection(self.client, self.api_key, self.gateway)

    async def unregister(self) -> str:
        """Remove the gateway this run registered."""
        assert self.gateway is not None
        return await registry.remove(self.client, self.api_key, self.gateway)


async def run_checks(
    target: Target,
    deadline: float = DEFAULT_DEADLINE,
    *,
    backoff: Backoff = Backoff(),
    on_attempt: Callable[[Attempt], None] = lambda _: None,
    checks: Sequence[str] = CHECKS,
) -> list[CheckResult]:
    """Poll the checks concurrently for up to `deadline` seconds; results in STEPS order.

    Each check makes at least one attempt; the last one starts no later than the deadline
    and gets at least MIN_ATTEMPT_TIMEOUT, so a run ends within deadline + 0.25 s (+ I/O).
    With an API key, the UDP checks wait for ``register`` (no packet from an unregistered
    EUI, whose refusal TTS would remember), and ``unregister`` runs afterwards whatever
    happened, within CLEANUP_DEADLINE more seconds.
    """
    if deadline < 0:
        raise ValueError(f"deadline {deadline} is negative")
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown or not checks:
        raise ValueError(f"unknown or no checks {unknown}: choose from {', '.join(CHECKS)}")
    started = anyio.current_time()
    end = started + deadline
    poll = _Poller(started, backoff, on_attempt)
    results: dict[str, CheckResult] = {}
    udp = [name for name in ("udp-ack", "gateway-connected") if name in checks]

    async with http_client(target) as client:
        reg = None
        if udp and target.api_key is not None:
            reg = _Registration(client, target, target.api_key)
        steps: dict[str, Callable[[], Awaitable[str]]] = {
            "healthz": lambda: check_healthz(target, client),
            "udp-ack": lambda: check_udp_ack(target),
            "gateway-connected": (
                reg.connected if reg else lambda: check_gateway_connected(target, client)
            ),
        }

        async def run(name: str) -> None:
            results[name] = await poll(name, steps[name], end)

        async def run_udp() -> None:
            if reg is not None:
                results["register"] = await poll(
                    "register", reg.register, end, registry.API_TIMEOUT
                )
                if reg.gateway is None:
                    why = "not run: the probe gateway could not be registered"
                    results.update({name: poll.not_run(name, why) for name in udp})
                    return
            async with anyio.create_task_group() as tg:
                for name in udp:
                    tg.start_soon(run, name)

        try:
            async with anyio.create_task_group() as tg:
                if "healthz" in checks:
                    tg.start_soon(run, "healthz")
                if udp:
                    tg.start_soon(run_udp)
        finally:
            if reg is not None and reg.gateway is not None:
                with anyio.CancelScope(shield=True):
                    cleanup_end = anyio.current_time() + CLEANUP_DEADLINE
                    results["unregister"] = await poll(
                        "unregister", reg.unregister, cleanup_end, registry.API_TIMEOUT
                    )
    return [results[name] for name in STEPS if name in results]
