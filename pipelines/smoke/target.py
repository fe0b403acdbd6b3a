"""Where a smoke run goes: the Things Stack's address, ports, TLS, the probe gateway and key."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx

DEFAULT_HOST: Final = "localhost"
DEFAULT_HTTP_PORT: Final = 1885
DEFAULT_UDP_PORT: Final = 1700
DEFAULT_MQTT_PORT: Final = 1883
DEFAULT_LNS_PORT: Final = 1887
GATEWAY_PROTOCOLS: Final = ("udp", "basic-station")
# The gateway_ID of Semtech's sample global_conf.json: obviously a test gateway.
DEFAULT_GATEWAY_EUI: Final = "AA555A0000000000"
DEFAULT_DEADLINE: Final = 30.0
# The longest single attempt: also every HTTP call's timeout.
ATTEMPT_TIMEOUT: Final = 2.0


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
    # The device probe (device_probe.py) on the registered gateway, and the application's MQTT.
    device: bool = False
    mqtt_host: str | None = None
    mqtt_port: int = DEFAULT_MQTT_PORT
    mqtt_tls: bool = False
    # How the device's gateway talks: Semtech UDP, or LoRa Basic Station at lns_uri.
    gateway_protocol: str = "udp"
    lns_uri: str | None = None

    def __post_init__(self) -> None:
        if self.api_key is not None and not self.frequency_plan:
            raise ValueError("registering the probe gateway needs its frequency plan")
        if self.device and self.api_key is None:
            raise ValueError("the device probe needs an API key: it registers its device")

    @property
    def base_url(self) -> str:
        """http(s)://host:port, IPv6 literals bracketed."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.https else 'http'}://{host}:{self.http_port}"

    @property
    def lns(self) -> str:
        """The LNS endpoint: lns_uri, else ws://host:1887."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (self.lns_uri or f"ws://{host}:{DEFAULT_LNS_PORT}").rstrip("/")

    @property
    def udp_address(self) -> str:
        """Where the Semtech UDP probe sends: udp_host, else host."""
        return self.udp_host or self.host


def tls_context(target: Target) -> ssl.SSLContext:
    """TLS as the target asks: the CA bundle, the system roots, or (insecure) no checks."""
    context = ssl.create_default_context(
        cafile=str(target.ca_bundle) if target.ca_bundle is not None else None
    )
    if target.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def http_client(target: Target) -> httpx.AsyncClient:
    """One client for the run, verifying TLS against the CA bundle unless insecure."""
    verify: ssl.SSLContext | bool = not target.insecure
    if target.ca_bundle is not None:
        verify = ssl.create_default_context(cafile=str(target.ca_bundle))
    return httpx.AsyncClient(base_url=target.base_url, verify=verify, timeout=ATTEMPT_TIMEOUT)
