"""The post-deploy smoke plan: which checks run from outside, which are skipped and why."""

import json

import pytest

from pipelines import public_smoke
from pipelines.smoke.__main__ import _parser as smoke_parser


def status_with(service: dict[str, object]) -> str:
    """A `helm status --show-resources -o json` answer holding one Service."""
    return json.dumps({"name": "tts", "info": {"resources": {"v1/Service": [service]}}})


def udp_service(ingress: list[dict[str, str]]) -> dict[str, object]:
    return {
        "metadata": {"name": public_smoke.UDP_SERVICE},
        "status": {"loadBalancer": {"ingress": ingress}},
    }


def test_the_udp_address_is_read_from_the_live_service() -> None:
    assert public_smoke.load_balancer_address(status_with(udp_service([{"ip": "20.1.2.3"}]))) == (
        "20.1.2.3"
    )
    host = [{"hostname": "udp.contoso.net"}]
    assert public_smoke.load_balancer_address(status_with(udp_service(host))) == "udp.contoso.net"
    assert public_smoke.load_balancer_address(status_with(udp_service([]))) is None


def test_a_release_without_the_udp_service_or_json_is_an_error() -> None:
    other: dict[str, object] = {"metadata": {"name": "tts-thethingsstack"}, "status": {}}
    with pytest.raises(ValueError, match="has no Service 'tts-thethingsstack-udp'"):
        public_smoke.load_balancer_address(status_with(other))
    with pytest.raises(ValueError, match="did not print JSON"):
        public_smoke.load_balancer_address("Error: release: not found")


def test_with_a_key_all_three_checks_run_and_the_cli_accepts_the_argv() -> None:
    plan = public_smoke.plan(
        "tts.contoso.net", "20.1.2.3", api_key=True, gateway_plan="US_902_928_FSB_2"
    )
    assert plan.argvs[0][:3] == ["python", "-m", "pipelines.smoke"]
    args = smoke_parser().parse_args(plan.argvs[0][3:])
    assert (args.host, args.udp_host, args.https, args.http_port, args.udp_port) == (
        "tts.contoso.net", "20.1.2.3", True, 443, 1700,
    )  # fmt: skip
    assert args.checks == ("healthz", "udp-ack", "gateway-connected")
    assert args.frequency_plan == "US_902_928_FSB_2"
    assert [n.split(":")[0] + ":" + n.split(":")[1].split(",")[0] for n in plan.notes] == [
        "healthz: runs",
        "udp-ack: runs",
        "gateway-connected: runs",
        "device: skipped",  # no service.tcp given
    ]


def test_without_a_key_gateway_connected_is_skipped_and_says_why() -> None:
    plan = public_smoke.plan("tts.contoso.net", "20.1.2.3", api_key=False, gateway_plan="X")
    assert smoke_parser().parse_args(plan.argvs[0][3:]).checks == ("healthz", "udp-ack")
    assert "--frequency-plan" not in plan.argvs[0]
    assert plan.notes[2].startswith("gateway-connected: skipped, no --smoke-api-key")
    assert "refuses unregistered gateways" in plan.notes[2]


def test_without_a_load_balancer_address_only_healthz_runs() -> None:
    plan = public_smoke.plan("tts.contoso.net", None, api_key=True, gateway_plan="X")
    assert smoke_parser().parse_args(plan.argvs[0][3:]).checks == ("healthz",)
    assert plan.notes[1] == (
        "udp-ack: skipped, Service tts-thethingsstack-udp has no load balancer address"
    )
    assert plan.notes[2] == "gateway-connected: skipped, no UDP address to send from"


def test_bad_hosts_are_refused() -> None:
    with pytest.raises(ValueError, match="is not a DNS name"):
        public_smoke.plan("https://tts.contoso.net", None, api_key=False, gateway_plan="X")
    with pytest.raises(ValueError, match="is not a DNS name"):
        public_smoke.plan("tts.contoso.net", "1.2.3.4:1700", api_key=False, gateway_plan="X")


@pytest.mark.parametrize(
    ("values", "plan"),
    [
        ("tts: {gatewayServer: {fallbackFrequencyPlanId: AU_915_928_FSB_2}}", "AU_915_928_FSB_2"),
        ("publicHost: tts.contoso.net", public_smoke.DEFAULT_FREQUENCY_PLAN),
        (
            "tts: {gatewayServer: {fallbackFrequencyPlanId: ''}}",
            public_smoke.DEFAULT_FREQUENCY_PLAN,
        ),
    ],
)
def test_the_probe_gateway_gets_the_deployments_plan(values: str, plan: str) -> None:
    assert public_smoke.frequency_plan(values) == plan


TCP = public_smoke.TcpEndpoint("mqtt.contoso.net", "20.4.5.6", ("20.4.5.6",))


def test_with_the_tls_endpoints_resolving_the_device_runs_over_udp_then_basic_station() -> None:
    plan = public_smoke.plan("tts.contoso.net", "20.1.2.3", api_key=True, gateway_plan="X",
                             tcp=TCP)  # fmt: skip
    udp, station = (smoke_parser().parse_args(argv[3:]) for argv in plan.argvs)
    assert (udp.device, udp.mqtt_host, udp.mqtt_port, udp.mqtt_tls) == (
        True, "mqtt.contoso.net", 8883, True,
    )  # fmt: skip
    assert udp.gateway_protocol == "udp"
    assert (station.gateway_protocol, station.lns_uri) == (
        "basic-station", "wss://mqtt.contoso.net:8887",
    )  # fmt: skip
    assert plan.notes[-1].startswith("device: runs, an OTAA device joins")


@pytest.mark.parametrize(
    ("udp_host", "api_key", "tcp", "why"),
    [
        ("20.1.2.3", False, TCP, "it needs gateway-connected"),
        ("20.1.2.3", True, None, "service.tcp is not enabled"),
        ("20.1.2.3", True, public_smoke.TcpEndpoint("mqtt.contoso.net", None, ()),
         "Service tts-thethingsstack-tcp has no load balancer address"),
        ("20.1.2.3", True, public_smoke.TcpEndpoint("mqtt.contoso.net", "20.4.5.6", ("9.9.9.9",)),
         "mqtt.contoso.net resolves to 9.9.9.9, not to the TCP load balancer 20.4.5.6"),
    ],
    ids=["no-key", "no-tcp", "no-address", "dns-elsewhere"],
)  # fmt: skip
def test_the_device_is_skipped_with_its_reason(
    udp_host: str, api_key: bool, tcp: public_smoke.TcpEndpoint | None, why: str
) -> None:
    plan = public_smoke.plan("tts.contoso.net", udp_host, api_key=api_key, gateway_plan="X",
                             tcp=tcp)  # fmt: skip
    [argv] = plan.argvs
    assert "--device" not in argv
    assert plan.notes[-1].startswith("device: skipped, ")
    assert why in plan.notes[-1]


@pytest.mark.parametrize(
    ("values", "host"),
    [
        ("service: {tcp: {enabled: true, host: mqtt.contoso.net}}", "mqtt.contoso.net"),
        ("service: {tcp: {enabled: false, host: mqtt.contoso.net}}", None),
        ("publicHost: tts.contoso.net", None),
    ],
)
def test_the_tcp_host_comes_from_the_values_when_enabled(values: str, host: str | None) -> None:
    assert public_smoke.tcp_host(values) == host
