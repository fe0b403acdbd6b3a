"""The device probe through the CLI against the stand-in's device side and a real MQTT broker
(mosquitto): it passes a network that behaves, and fails each broken one with one line, exit
1 and no traceback, removing what it made. tests/realserver runs it against the real server.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from websockets.asyncio.server import ServerConnection, serve

from pipelines.smoke.registry import API_KEY_ENV
from tests.support.protocol_standin import STANDIN_API_KEY, smoke_cli, standin
from tests.support.servers import LOOPBACK, mosquitto_server


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    with mosquitto_server(tmp_path / "mosquitto") as port:
        yield port


def _probe(
    mqtt_port: int, fault: str, broker_port: int | None = None, *args: str
) -> tuple[int, str, str]:
    """(exit, stdout, stderr) of `--device` against a stand-in with `fault`."""
    with standin("--mqtt-port", str(broker_port or mqtt_port), "--device-fault", fault) as server:
        result = smoke_cli(
            server.http_port, server.udp_port, "--deadline", "10", "--device",
            "--device-deadline", "5", "--mqtt-port", str(mqtt_port),
            "--frequency-plan", "EU_863_870_TTN", *args,
            env={**os.environ, API_KEY_ENV: STANDIN_API_KEY},
        )  # fmt: skip
    print(result.stdout, result.stderr)
    return result.returncode, result.stdout, result.stderr


def test_a_network_that_behaves_passes_every_device_step(broker: int) -> None:
    code, out, _ = _probe(broker, "none")
    assert code == 0
    assert "PASS  join               JoinAccept in RX1" in out
    assert "PASS  uplink             uplink FCnt 0 on FPort 42 reached MQTT" in out
    assert "PASS  downlink           downlink FCnt" in out
    assert out.splitlines()[-1] == "smoke: 10 of 10 checks passed"


@pytest.mark.parametrize(
    ("fault", "step", "reason"),
    [
        ("join-mic", "join", "JoinAccept refused: JoinAccept MIC does not verify"),
        ("join-window", "join", "JoinAccept timed 7.000000 s after the uplink, not in RX1 (5 s)"),
        ("no-join", "join", "no JoinAccept within 8.5 s of the JoinRequest"),
        ("no-mqtt-uplink", "uplink", "uplink FCnt 0 did not reach MQTT"),
        ("downlink-mic", "downlink", "downlink refused: downlink MIC does not verify for FCnt 0"),
        ("downlink-fcnt", "downlink", "(expected at least 8): a wrong frame counter or key"),
    ],
)
def test_a_broken_network_fails_its_step_in_one_line(
    broker: int, fault: str, step: str, reason: str
) -> None:
    code, out, err = _probe(broker, fault)
    assert code == 1
    assert "Traceback" not in out + err
    [failed] = [line for line in out.splitlines() if line.startswith(f"FAIL  {step} ")]
    assert reason in failed
    assert "PASS  device-delete      device probe-" in out  # removed, failure or not
    assert "PASS  unregister" in out
    assert out.splitlines()[-1].startswith("smoke: ")


def test_an_mqtt_server_that_refuses_the_key_fails_uplink_at_once(
    broker: int, tmp_path: Path
) -> None:
    with mosquitto_server(tmp_path / "refusing", only_user="someone-else") as refusing:
        code, out, err = _probe(refusing, "none", broker_port=broker)
    assert code == 1
    assert "Traceback" not in out + err
    [failed] = [line for line in out.splitlines() if line.startswith("FAIL  uplink ")]
    assert "refused the probe application's API key (not authorized)" in failed
    assert "[1 attempt," in failed  # final: a refused key is not retried
    assert "PASS  device-delete" in out


@contextlib.asynccontextmanager
async def closing_muxs() -> AsyncIterator[str]:
    """An LNS whose router-info answers, and whose muxs closes the websocket after `version`."""

    async def handle(ws: ServerConnection) -> None:
        request = json.loads(await ws.recv())
        if ws.request is not None and ws.request.path == "/router-info":
            uri = f"ws://{LOOPBACK}:{port}/traffic/eui-aa555a0000000000"
            await ws.send(json.dumps({"router": request["router"], "muxs": "::0", "uri": uri}))
            return
        await ws.close(code=1011, reason="muxs going away")

    async with serve(handle, LOOPBACK, 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://{LOOPBACK}:{port}"


@pytest.mark.anyio
async def test_a_muxs_that_closes_the_websocket_fails_join_in_one_line(broker: int) -> None:
    async with closing_muxs() as lns:
        station = ("--gateway-protocol", "basic-station", "--lns-uri", lns)
        result = await anyio.to_thread.run_sync(lambda: _probe(broker, "none", None, *station))
    code, out, err = result
    assert code == 1
    assert "Traceback" not in out + err
    [failed] = [line for line in out.splitlines() if line.startswith("FAIL  join ")]
    assert f"the LNS {lns}/traffic/eui-aa555a0000000000 closed the websocket" in failed
    assert "muxs going away" in failed
    assert "PASS  device-delete" in out
