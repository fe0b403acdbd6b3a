"""The HTTP side of the smoke: /healthz, and the connected-gateways gauge on /metrics."""

from __future__ import annotations

import math
from typing import Final

import httpx

from pipelines.smoke.capped import json_object, read_capped
from pipelines.smoke.polling import ProbeFailure
from pipelines.smoke.prometheus import metric_value
from pipelines.smoke.target import Target
from pipelines.smoke.udp import announce

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
# What a probe reads at most: the health JSON is ~0.3 KiB; a real v3.32 /metrics ~660 KiB.
MAX_HEALTHZ_BODY: Final = 64 * 1024
MAX_METRICS_BODY: Final = 4 * 1024 * 1024
HEALTH_STATUS_OK: Final = "OK"


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


def _count(value: float) -> int | None:
    """`value` as a gateway count: a finite whole number >= 0, else None."""
    if not math.isfinite(value) or value < 0 or value != math.floor(value):
        return None
    return int(value)


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
