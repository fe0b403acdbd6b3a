"""The probes against servers that answer, but wrongly: nothing wrong may pass, nothing may
crash. Each case is the protocol stand-in's hostile mode (tests/support/protocol_standin.py)
on loopback."""

import json
import sys

import anyio
import pytest

from pipelines.smoke import Target, run_checks
from pipelines.smoke.device_probe import STEPS
from tests.support.paths import REPO_ROOT
from tests.support.protocol_standin import ENDLESS, Answer, hostile

pytestmark = pytest.mark.anyio

HEALTH_OK = Answer(200, json.dumps({"status": "OK", "system": {}}).encode(), "application/json")
SERIES = 'ttn_lw_gs_connected_gateways{protocol="udp"}'


def metrics_with(value: str) -> dict[str, Answer]:
    body = f"# TYPE ttn_lw_gs_connected_gateways gauge\n{SERIES} {value}\n".encode()
    return {"/healthz": HEALTH_OK, "/metrics": Answer(200, body)}


async def probe(routes: dict[str, Answer], check: str, deadline: float = 0.5) -> str:
    """The failing detail of `check` against `routes` (the check must fail)."""
    async with hostile(routes) as (http_port, udp_port):
        [result] = await run_checks(
            Target(host="127.0.0.1", http_port=http_port, udp_port=udp_port),
            deadline=deadline,
            checks=[check],
        )
    assert not result.ok, result.detail
    return result.detail


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Answer(200, b"OK"), "GET /healthz: the body is not JSON: 'OK'"),
        (Answer(200, b"[]"), "the body is JSON list, not an object"),
        (Answer(200, b'{"status":"Unavailable","failures":{"db":"down"}}'),
         "its status is 'Unavailable', expected 'OK' (failures: {'db': 'down'})"),
        (Answer(200, b'{"status":"ok"}'), "its status is 'ok'"),
        (Answer(200, b"\xff\xfe{}"), "the body is not JSON"),
        (Answer(200, ENDLESS), "GET /healthz: the body exceeds 64 KiB"),
        (Answer(503, b'{"status":"OK"}'), "GET /healthz answered 503, expected 200"),
    ],
)  # fmt: skip
async def test_healthz_wants_the_health_json_with_status_ok(answer: Answer, message: str) -> None:
    assert message in await probe({"/healthz": answer}, "healthz")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NaN", "is nan: not a count of gateways"),
        ("+Inf", "is inf: not a count of gateways"),
        ("0.5", "is 0.5: not a count of gateways"),
        ("-1", "is -1.0: not a count of gateways"),
        ("0", f"{SERIES} is 0: UDP acked but no gateway connected"),
        ("one", "/metrics line 2 is not Prometheus text"),
        ("1 2 3", "/metrics line 2 is not Prometheus text"),
    ],
)
async def test_connected_gauge_must_be_a_whole_number_of_at_least_one(
    value: str, message: str
) -> None:
    assert message in await probe(metrics_with(value), "gateway-connected")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>Login</html>\n", "/metrics line 1 is not Prometheus text: '<html>Login</html>'"),
        (f'{SERIES[:-1]} 1\n'.encode(), "/metrics line 1 is not Prometheus text"),
        (b'ttn_lw_gs_connected_gateways{protocol=udp} 1\n', "line 1 is not Prometheus text"),
        (b"\xff\xfe\n", "GET /metrics: the body is not UTF-8 text"),
        (ENDLESS, "GET /metrics: the body exceeds 4096 KiB"),
        (b"x" * (5 * 1024 * 1024), "GET /metrics: the body exceeds 4096 KiB"),
    ],
)  # fmt: skip
async def test_metrics_that_cannot_be_parsed_fail_the_check(body: bytes, message: str) -> None:
    routes = {"/healthz": HEALTH_OK, "/metrics": Answer(200, body)}
    assert message in await probe(routes, "gateway-connected", deadline=2)


async def test_a_whole_gauge_in_any_notation_passes() -> None:
    for value in ["1", "2", "1e0", "3.0"]:
        async with hostile(metrics_with(value)) as (http_port, udp_port):
            [result] = await run_checks(
                Target(host="127.0.0.1", http_port=http_port, udp_port=udp_port),
                deadline=2,
                checks=["gateway-connected"],
            )
        assert result.ok, (value, result.detail)


async def test_the_cli_fails_hostile_answers_with_one_line_each_and_no_traceback() -> None:
    routes = {"/healthz": Answer(200, ENDLESS), "/metrics": Answer(200, b"NaN NaN NaN\n")}
    async with hostile(routes) as (http_port, udp_port):
        result = await anyio.run_process(
            [sys.executable, "-m", "pipelines.smoke", "--host", "127.0.0.1",
             "--http-port", str(http_port), "--udp-port", str(udp_port), "--deadline", "1"],
            cwd=REPO_ROOT, check=False,
        )  # fmt: skip
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 1
    assert "Traceback" not in out + err
    lines = out.splitlines()
    assert lines[0].startswith("FAIL  healthz ")
    assert "exceeds 64 KiB" in lines[0]
    assert lines[1].startswith("PASS  udp-ack ")
    assert lines[2].startswith("FAIL  gateway-connected ")
    assert "not Prometheus text" in lines[2]
    assert lines[3:-1] == [f"SKIP  {name:<18} not asked: --device not given" for name in STEPS]
    assert lines[-1] == "smoke: 1 of 3 checks passed; failed: healthz, gateway-connected"
