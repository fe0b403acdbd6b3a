"""The post-deploy smoke: what `deploy` can prove from outside the cluster, and what not.

- healthz: HTTPS through the ingress (publicHost, port 443).
- udp-ack: the Semtech UDP port of the UDP Service's load balancer. Its address is read from
  the live Service (``helm status --show-resources -o json`` returns the objects with their
  status; helm's --wait already waited for a LoadBalancer Service's ingress), not typed.
- gateway-connected: only with an API key, through the public API: the probe registers its
  gateway, asks the Gateway Server whether exactly that gateway is connected, and removes
  it. /metrics is not published through the ingress, and a Things Stack refuses
  unregistered gateways anyway, so without a key this check is skipped, and said so.
- device (with a key and service.tcp): an OTAA device joins through that gateway, its uplink
  reaches the application over MQTT with TLS (service.tcp.host:8883) and a downlink comes
  back; then again with the gateway as a Basic Station (wss://service.tcp.host:8887). TLS is
  verified by the host name, so it runs only once the name resolves to the address of the
  live TCP Service; before that (DNS not pointed yet) it is skipped, and said so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import yaml

from pipelines.chart import RELEASE_NAME
from pipelines.helm import check_timeout
from pipelines.names import check_host

UDP_SERVICE: Final = f"{RELEASE_NAME}-thethingsstack-udp"
TCP_SERVICE: Final = f"{RELEASE_NAME}-thethingsstack-tcp"
UDP_PORT: Final = 1700
MQTTS_PORT, LNS_TLS_PORT = 8883, 8887
# The chart default (values.yaml tts.gatewayServer.fallbackFrequencyPlanId).
DEFAULT_FREQUENCY_PLAN: Final = "EU_863_870_TTN"


def load_balancer_address(status_json: str, service: str = UDP_SERVICE) -> str | None:
    """The ingress IP (or host name) of `service` in a `helm status` JSON; None if none yet."""
    try:
        status = json.loads(status_json)
    except ValueError:
        raise ValueError("helm status did not print JSON: is the release installed?") from None
    resources: dict[str, list[dict[str, Any]]] = status.get("info", {}).get("resources") or {}
    for obj in resources.get("v1/Service", []):
        if obj.get("metadata", {}).get("name") != service:
            continue
        for ingress in obj.get("status", {}).get("loadBalancer", {}).get("ingress") or []:
            address = ingress.get("ip") or ingress.get("hostname")
            if address:
                return str(address)
        return None
    raise ValueError(f"the release has no Service {service!r}: is service.udp enabled?")


def tcp_host(values_yaml: str) -> str | None:
    """service.tcp.host when service.tcp is enabled: the name of MQTT and the LNS over TLS."""
    values = yaml.safe_load(values_yaml) or {}
    service = values.get("service") if isinstance(values, dict) else None
    tcp = service.get("tcp") if isinstance(service, dict) else None
    if isinstance(tcp, dict) and tcp.get("enabled") is True and isinstance(tcp.get("host"), str):
        return tcp["host"] or None
    return None


@dataclass(frozen=True)
class TcpEndpoint:
    """service.tcp as deployed: its host name, the live Service's address, what DNS says."""

    host: str
    address: str | None  # the TCP Service's load balancer address; None: none yet
    resolved: tuple[str, ...]  # the addresses `host` resolves to here


def frequency_plan(values_yaml: str) -> str:
    """The deployment's plan for the probe gateway: the values' fallback plan, or the default."""
    values = yaml.safe_load(values_yaml) or {}
    gs = (values.get("tts") or {}).get("gatewayServer") or {} if isinstance(values, dict) else {}
    plan = gs.get("fallbackFrequencyPlanId") if isinstance(gs, dict) else None
    return plan if isinstance(plan, str) and plan else DEFAULT_FREQUENCY_PLAN


@dataclass(frozen=True)
class SmokePlan:
    """The probe argvs (the second: the device's gateway as a Basic Station) and, for the
    report, a line per check: ran or skipped, and why."""

    argvs: list[list[str]]
    notes: list[str]


def plan(
    public_host: str,
    udp_host: str | None,
    api_key: bool,
    gateway_plan: str,
    deadline_seconds: int = 120,
    tcp: TcpEndpoint | None = None,
) -> SmokePlan:
    """The smoke against a deployment's public endpoints; `api_key`: TTS_API_KEY is set."""
    check_host(public_host)
    checks = ["healthz"]
    notes = [f"healthz: runs, GET https://{public_host}/healthz through the ingress"]
    extra: list[str] = []
    if udp_host:
        check_host(udp_host)
        checks.append("udp-ack")
        extra = ["--udp-host", udp_host, "--udp-port", str(UDP_PORT)]
        notes.append(f"udp-ack: runs, Semtech UDP to {udp_host}:{UDP_PORT} (the UDP load balancer)")
    else:
        notes.append(f"udp-ack: skipped, Service {UDP_SERVICE} has no load balancer address")
    if udp_host and api_key:
        checks.append("gateway-connected")
        extra += ["--frequency-plan", gateway_plan]
        notes.append(
            f"gateway-connected: runs, registers a probe gateway ({gateway_plan}) through "
            f"https://{public_host}/api/v3 and removes it afterwards"
        )
    elif udp_host:
        notes.append(
            "gateway-connected: skipped, no --smoke-api-key (a Things Stack refuses "
            "unregistered gateways, so only a registered probe gateway can prove a connect)"
        )
    else:
        notes.append("gateway-connected: skipped, no UDP address to send from")
    deadline = check_timeout(deadline_seconds, "deadline_seconds").removesuffix("s")
    argv = [
        "python", "-m", "pipelines.smoke", "--host", public_host, "--https",
        "--http-port", "443", "--checks", ",".join(checks), "--deadline", deadline, *extra,
    ]  # fmt: skip
    device, why = _device(tcp, ready=bool(udp_host and api_key))
    notes.append(why)
    if not device:
        return SmokePlan([argv], notes)
    assert tcp is not None  # _device runs it only with the TCP endpoint
    argv += ["--device", "--mqtt-host", tcp.host, "--mqtt-port", str(MQTTS_PORT), "--mqtt-tls"]
    station = [
        "--gateway-protocol",
        "basic-station",
        "--lns-uri",
        f"wss://{tcp.host}:{LNS_TLS_PORT}",
    ]
    return SmokePlan([argv, [*argv, *station]], notes)


def _device(tcp: TcpEndpoint | None, ready: bool) -> tuple[bool, str]:
    """Whether the device probe runs, and the report line that says why (not)."""
    if not ready:
        return False, "device: skipped, it needs gateway-connected (a key and a UDP address)"
    if tcp is None:
        return False, "device: skipped, service.tcp is not enabled (no MQTT or LNS over TLS)"
    check_host(tcp.host)
    if tcp.address is None:
        return False, f"device: skipped, Service {TCP_SERVICE} has no load balancer address"
    if tcp.address not in tcp.resolved:
        found = ", ".join(tcp.resolved) or "nothing"
        return False, (
            f"device: skipped, {tcp.host} resolves to {found}, not to the TCP load balancer "
            f"{tcp.address}: point the name at it (TLS is verified by that name)"
        )
    return True, (
        f"device: runs, an OTAA device joins through the probe gateway, MQTT over TLS to "
        f"{tcp.host}:{MQTTS_PORT}; then with the gateway a Basic Station at "
        f"wss://{tcp.host}:{LNS_TLS_PORT}"
    )
