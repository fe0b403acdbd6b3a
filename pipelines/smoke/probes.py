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

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

import anyio
import httpx

from pipelines.smoke import device_probe, registry
from pipelines.smoke.http_checks import check_gateway_connected, check_healthz
from pipelines.smoke.polling import Attempt, Backoff, CheckResult, Poller, skipped
from pipelines.smoke.target import DEFAULT_DEADLINE, Target, http_client, tls_context
from pipelines.smoke.udp import announce, check_udp_ack

CHECKS: Final = ("healthz", "udp-ack", "gateway-connected")
# With an API key: the steps around the UDP checks, in report order; then the device's.
STEPS: Final = ("healthz", "register", "udp-ack", "gateway-connected", *device_probe.STEPS,
                "unregister")  # fmt: skip
DEFAULT_BACKOFF: Final = Backoff()
CLEANUP_DEADLINE: Final = 15.0  # removing the probe gateway, after the checks' deadline


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
    backoff: Backoff = DEFAULT_BACKOFF,
    on_attempt: Callable[[Attempt], None] = lambda _: None,
    checks: Sequence[str] = CHECKS,
    device_deadline: float = device_probe.DEFAULT_DEVICE_DEADLINE,
) -> list[CheckResult]:
    """Poll the checks concurrently for up to `deadline` seconds; results in STEPS order.

    Each check makes at least one attempt; the last one starts no later than the deadline
    and gets at least MIN_ATTEMPT_TIMEOUT, so a run ends within deadline + 0.25 s (+ I/O).
    With an API key, the UDP checks wait for ``register`` (no packet from an unregistered
    EUI, whose refusal TTS would remember), and ``unregister`` runs afterwards whatever
    happened, within CLEANUP_DEADLINE more seconds. With ``target.device`` the device
    probe's steps follow a connected gateway, all within `device_deadline` seconds, and
    ``device-delete`` runs before ``unregister`` whatever happened.
    """
    if deadline < 0:
        raise ValueError(f"deadline {deadline} is negative")
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown or not checks:
        raise ValueError(f"unknown or no checks {unknown}: choose from {', '.join(CHECKS)}")
    started = anyio.current_time()
    end = started + deadline
    poll = Poller(started, backoff, on_attempt)
    results: dict[str, CheckResult] = {}
    udp = [name for name in ("udp-ack", "gateway-connected") if name in checks]

    async with http_client(target) as client:
        reg = None
        if udp and target.api_key is not None:
            reg = _Registration(client, target, target.api_key)
        device = None
        if reg is not None and target.device:
            tls = tls_context(target)
            device = device_probe.DeviceProbe(client, target, reg.api_key, tls=tls)
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
                    if target.device:
                        results.update(await _device_steps(None, reg, None, poll, 0))
                    return
            async with anyio.create_task_group() as tg:
                for name in udp:
                    tg.start_soon(run, name)
            if target.device:
                connected = results.get("gateway-connected")
                results.update(await _device_steps(device, reg, connected, poll, device_deadline))

        try:
            async with anyio.create_task_group() as tg:
                if "healthz" in checks:
                    tg.start_soon(run, "healthz")
                if udp:
                    tg.start_soon(run_udp)
        finally:
            if device is not None and device.created.anything:
                results["device-delete"] = await _cleanup(poll, "device-delete", device.delete)
            elif target.device:
                results["device-delete"] = skipped("device-delete", "nothing was created")
            if reg is not None and reg.gateway is not None:
                results["unregister"] = await _cleanup(poll, "unregister", reg.unregister)
    return [results[name] for name in STEPS if name in results]


async def _device_steps(
    device: device_probe.DeviceProbe | None,
    reg: _Registration | None,
    connected: CheckResult | None,
    poll: Poller,
    deadline: float,
) -> dict[str, CheckResult]:
    """The device probe's results; not run without a registered, connected gateway."""
    names = device_probe.STEPS
    if device is None or reg is None or reg.owner is None or not (connected and connected.ok):
        why = "not run: the device needs the probe gateway registered and connected"
        return {name: poll.not_run(name, why) for name in names[:-1]}
    device.owner, device.gateway = reg.owner, reg.gateway
    return await device_probe.run_steps(device, poll, deadline)


async def _cleanup(poll: Poller, name: str, remove: Callable[[], Awaitable[str]]) -> CheckResult:
    """A removal step that runs whatever happened: shielded, CLEANUP_DEADLINE more seconds."""
    with anyio.CancelScope(shield=True):
        end = anyio.current_time() + CLEANUP_DEADLINE
        result = await poll(name, remove, end, registry.API_TIMEOUT)
    return result
