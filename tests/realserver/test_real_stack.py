"""The chart's kind profile and its helm tests, run against the real ttn-lw-stack.

Nothing here is a model. The chart is rendered exactly as `dagger call test-e-2-e` installs
it (tests/support/render.py), and each container's process is run on this machine with the
environment and argv the kubelet would give it (tests/support/kubelet.py), next to real
Redis and PostgreSQL on free loopback ports. What differs from the cluster is only where
things are: Service names and container ports become 127.0.0.1 and free ports, mounted
volumes become directories. In order, as in the cluster:

1. the Deployment's init containers: `is-db migrate`, then `is-db create-oauth-client`;
2. the `stack` container (`start` with the chart's components), until /healthz answers;
3. the smoke test pod: its init container makes the probe's API key (the shell script, run
   with `sh`), then the probe container (`python -m pipelines.smoke`) registers its
   gateway, probes, and removes the gateway.

The binary comes from TTN_LW_STACK (a path; conftest.py); without it the suite is skipped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.realserver.conftest import require_ttn_lw_stack
from tests.support import kubelet
from tests.support.real_server import (
    Stack,
    chart_stores,
    local_env,
    run_to_end,
    running_stack,
)
from tests.support.render import smoke_pod
from tests.support.servers import LOOPBACK

require_ttn_lw_stack()  # without the binary: skipped, one line for the suite


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, ttn_lw_stack: Path) -> Iterator[Stack]:
    """Redis, PostgreSQL and ttn-lw-stack as the kind profile configures them."""
    workdir = tmp_path_factory.mktemp("stack")
    with (
        chart_stores(workdir) as stores,
        running_stack(ttn_lw_stack, workdir, stores.redis, stores.pg) as running,
    ):
        yield running


def _smoke_argv(stack: Stack, key_dir: Path | None, pod: str = "smoke") -> list[str]:
    """The smoke pod's probe container argv with Services, ports and the key mount local.

    key_dir None: without the API key, the probe as it was before it registered gateways.
    """
    [probe] = smoke_pod(stack.rendered, pod)["spec"]["containers"]
    argv = kubelet.container_argv(probe, {}, [])
    assert argv[:3] == ["python", "-m", "pipelines.smoke"], argv
    swaps = {
        "--host": LOOPBACK,
        "--udp-host": LOOPBACK,
        "--http-port": str(stack.http_port),
        "--udp-port": str(stack.udp_port),
        "--mqtt-host": LOOPBACK,
        "--mqtt-port": stack.env["TTN_LW_AS_MQTT_LISTEN"].rsplit(":", 1)[1],
    }
    if "--lns-uri" in argv:
        swaps["--lns-uri"] = f"ws://{stack.env['TTN_LW_GS_BASIC_STATION_LISTEN']}"
    for flag, value in swaps.items():
        argv[argv.index(flag) + 1] = value
    key_at = argv.index("--api-key-file")
    if key_dir is None:
        del argv[key_at : key_at + 2]
        argv.remove("--device")  # the device probe needs the key
    else:
        [mount] = probe["volumeMounts"]
        argv[key_at + 1] = argv[key_at + 1].replace(mount["mountPath"], str(key_dir))
    return [sys.executable, *argv[1:]]


def _make_api_key(stack: Stack, key_dir: Path, pod_name: str = "smoke") -> str:
    """A smoke pod's init container, run for real: its script with `sh`."""
    pod = smoke_pod(stack.rendered, pod_name)
    [init] = pod["spec"]["initContainers"]
    [mount] = init["volumeMounts"]
    bin_dir = stack.workdir / "image-bin"  # the image has ttn-lw-stack on PATH
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "ttn-lw-stack").exists():
        (bin_dir / "ttn-lw-stack").symlink_to(stack.binary.resolve())
    env = local_env(stack.rendered, init, stack.workdir, stack.redis, stack.postgres, {})
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    argv = kubelet.container_argv(init, env, [])
    argv = [part.replace(mount["mountPath"], str(key_dir)) for part in argv]
    return run_to_end(argv, env, stack.workdir)


def test_the_kind_profile_config_starts_the_real_server(stack: Stack) -> None:
    print(f"ttn-lw-stack start -> /healthz 200 in {stack.seconds_to_healthy:.2f} s")
    assert set(stack.init_outputs) == {"migrate", "console-client"}
    health = httpx.get(f"http://{LOOPBACK}:{stack.http_port}/healthz").json()
    assert health["status"] == "OK"
    metrics = httpx.get(f"http://{LOOPBACK}:{stack.http_port}/metrics").text
    assert "ttn_lw_gs_" in metrics
    print(f"/metrics: {len(metrics)} bytes")


def test_init_containers_keep_secrets_out_of_their_logs(stack: Stack) -> None:
    secret = stack.env["TTN_LW_CONSOLE_OAUTH_CLIENT_SECRET"]
    assert secret
    for name, output in stack.init_outputs.items():
        assert secret not in output, f"{name} logged the console client secret"


@pytest.fixture
def untouched_stack(tmp_path: Path, ttn_lw_stack: Path) -> Iterator[Stack]:
    """A stack of its own: no gateway has ever connected to it."""
    with (
        chart_stores(tmp_path) as stores,
        running_stack(ttn_lw_stack, tmp_path / "stack", stores.redis, stores.pg) as running,
    ):
        yield running


def test_without_an_api_key_the_real_server_refuses_the_probe_gateway(
    untouched_stack: Stack,
) -> None:
    # A server of its own: the gauge this probe reads without a key counts every UDP
    # gateway, and a purged gateway stays connected (and counted) until its connection expires.
    stack = untouched_stack
    metrics = httpx.get(f"http://{LOOPBACK}:{stack.http_port}/metrics").text
    assert 'ttn_lw_gs_connected_gateways{protocol="udp"} 1' not in metrics
    argv = _smoke_argv(stack, None)
    eui = os.urandom(8).hex().upper()  # never seen by this server
    result = subprocess.run(
        [*argv, "--gateway-eui", eui, "--deadline", "8"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    print(result.stdout)
    assert result.returncode == 1
    assert "PASS  healthz" in result.stdout
    assert "PASS  udp-ack" in result.stdout
    assert "FAIL  gateway-connected" in result.stdout
    assert "refuses unregistered gateways" in result.stdout
    assert f"eui-{eui.lower()}" in stack.log_text()
    assert "no_gateway_rights" in stack.log_text()


def test_a_key_the_server_does_not_know_fails_register_at_once(stack: Stack) -> None:
    argv = _smoke_argv(stack, None)
    env = {**os.environ, "TTS_API_KEY": "NNSXS.NOTAKEYOFTHISSERVER.NOTAKEYOFTHISSERVERNOTAKEY"}
    started = time.monotonic()
    result = subprocess.run(
        [*argv, "--deadline", "30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    took = time.monotonic() - started
    print(result.stdout)
    assert result.returncode == 1
    assert "FAIL  register" in result.stdout
    assert "answered 401: error:pkg/identityserver:api_key_not_found" in result.stdout
    assert "not run: the probe gateway could not be registered" in result.stdout
    assert took < 10  # final: not retried until the 30 s deadline


def test_the_helm_test_flow_connects_a_gateway_and_a_device_end_to_end(
    stack: Stack, tmp_path: Path
) -> None:
    """The smoke pod as the chart runs it: gateway, then an OTAA device joins, its uplink
    reaches MQTT and a downlink queued there comes back; everything it made is removed."""
    init_output = _make_api_key(stack, tmp_path)
    key = json.loads((tmp_path / "api-key.json").read_text())["key"]
    assert key.startswith("NNSXS.")
    assert key not in init_output  # warn level: create-user-api-key logs the key at INFO
    started = time.monotonic()
    result = subprocess.run(
        _smoke_argv(stack, tmp_path), capture_output=True, text=True, timeout=180, check=False
    )
    took = time.monotonic() - started
    print(result.stdout, result.stderr, f"smoke run: {took:.2f} s", sep="\n")
    assert result.returncode == 0, stack.log_text()[-4000:]
    assert "10 of 10 checks passed" in result.stdout
    assert "connected over udp since" in result.stdout
    assert re.search(
        r"PASS  join +JoinAccept in RX[12] [\d.]+ s after the JoinRequest", result.stdout
    )
    assert re.search(r"PASS  uplink +uplink FCnt \d+ on FPort 42 reached MQTT", result.stdout)
    assert re.search(
        r"PASS  downlink +downlink FCnt \d+ on FPort 43 in RX[12] of uplink", result.stdout
    )
    assert key not in result.stdout + result.stderr
    gateway = re.search(r"gateway (eui-[0-9a-f]{16}) purged", result.stdout)
    application = re.search(r"application (tts-ci-probe-[0-9a-f]{8}) purged", result.stdout)
    assert gateway is not None, result.stdout
    assert application is not None, result.stdout
    for path in (f"/gateways/{gateway[1]}", f"/applications/{application[1]}"):
        gone = stack.api("GET", path, key)
        assert gone.status_code == 404, (path, gone.text)


def test_the_device_probe_passes_as_a_basic_station_too(stack: Stack, tmp_path: Path) -> None:
    """The second smoke pod: its device's gateway a LoRa Basic Station on the LNS (1887)."""
    _make_api_key(stack, tmp_path, "smoke-basic-station")
    argv = _smoke_argv(stack, tmp_path, "smoke-basic-station")
    assert argv[argv.index("--gateway-protocol") + 1] == "basic-station"
    result = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    print(result.stdout)
    assert result.returncode == 0, stack.log_text()[-4000:]
    assert "10 of 10 checks passed" in result.stdout
    assert re.search(r"PASS  join +JoinAccept in RX[12] ", result.stdout)
    assert re.search(r"PASS  downlink +downlink FCnt \d+ on FPort 43 in RX[12] ", result.stdout)
    assert "semtechws/lbslns" in stack.log_text()
