"""The post-deploy smoke: what `deploy` can prove from outside the cluster, and what not.

- healthz: HTTPS through the ingress (publicHost, port 443).
- udp-ack: the Semtech UDP port of the UDP Service's load balancer. Its address is read from
  the live Service (``helm status --show-resources -o json`` returns the objects with their
  status; helm's --wait already waited for a LoadBalancer Service's ingress), not typed.
- gateway-connected: only with an API key, through the public API: the probe registers its
  gateway, asks the Gateway Server whether exactly that gateway is connected, and removes
  it. /metrics is not published through the ingress, and a Things Stack refuses
  unregistered gateways anyway, so without a key this check is skipped, and said so.
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
UDP_PORT: Final = 1700
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


def frequency_plan(values_yaml: str) -> str:
    """The deployment's plan for the probe gateway: the values' fallback plan, or the default."""
    values = yaml.safe_load(values_yaml) or {}
    gs = (values.get("tts") or {}).get("gatewayServer") or {} if isinstance(values, dict) else {}
    plan = gs.get("fallbackFrequencyPlanId") if isinstance(gs, dict) else None
    return plan if isinstance(plan, str) and plan else DEFAULT_FREQUENCY_PLAN


@dataclass(frozen=True)
class SmokePlan:
    """The probe argv and, for the report, a line per check: ran or skipped, and why."""

    argv: list[str]
    notes: list[str]


def plan(
    public_host: str,
    udp_host: str | None,
    api_key: bool,
    gateway_plan: str,
    deadline_seconds: int = 120,
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
    return SmokePlan(argv, notes)
