"""The device probe through the CLI against the stand-in's device side and a real MQTT broker
(mosquitto): it passes a network that behaves, and fails each broken one with one line, exit
1 and no traceback, removing what it made. tests/realserver runs it against the real server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.smoke.registry import API_KEY_ENV
from tests.support.protocol_standin import STANDIN_API_KEY, smoke_cli, standin
from tests.support.servers import mosquitto_server


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    with mosquitto_server(tmp_path / "mosquitto") as port:
        yield port


def _probe(mqtt_port: int, fault: str, broker_port: int | None = None) -> tuple[int, str, str]:
    """(exit, stdout, stderr) of `--device` against a stand-in with `fault`."""
    with standin("--mqtt-port", str(broker_port or mqtt_port), "--device-fault", fault) as server:
        result = smoke_cli(
            server.http_port, server.udp_port, "--deadline", "10", "--device",
            "--device-deadline", "5", "--mqtt-port", str(mqtt_port),
            "--frequency-plan", "EU_863_870_TTN",
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
