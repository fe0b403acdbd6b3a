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
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.realserver.conftest import SKIP_REASON
from tests.support import kubelet
from tests.support.render import find, install_argv, objects, smoke_pod
from tests.support.servers import (
    LOOPBACK,
    Postgres,
    Redis,
    free_port,
    postgres_server,
    redis_server,
)

pytestmark = pytest.mark.realserver

if not os.environ.get("TTN_LW_STACK"):  # one skip line for the whole suite
    pytest.skip(SKIP_REASON, allow_module_level=True)

# Services of the release `tts` in namespace `tts` (pipelines.kube) that TTS connects to.
REDIS_SERVICE = "tts-thethingsstack-redis.tts.svc:6379"
POSTGRES_SERVICE = "tts-thethingsstack-postgresql.tts.svc:5432"
# Listeners ttn-lw-stack opens by default that the chart leaves alone (v3.32.0
# cmd/internal/shared/config.go and gatewayserver/config.go): on loopback here.
DEFAULT_LISTENERS = (
    "TTN_LW_INTEROP_LISTEN",
    "TTN_LW_GS_MQTT_LISTEN",
    "TTN_LW_GS_MQTT_V2_LISTEN",
    "TTN_LW_GS_BASIC_STATION_LISTEN",
    "TTN_LW_GS_TTIGW_LISTEN",
    "TTN_LW_AS_MQTT_LISTEN",
)
STARTUP_TIMEOUT = 120.0


@dataclass
class Stack:
    """The running server and what the chart gave it."""

    rendered: list[dict[str, Any]]
    env: dict[str, str]
    http_port: int
    udp_port: int
    workdir: Path
    log: Path
    binary: Path
    proc: subprocess.Popen[bytes]
    init_outputs: dict[str, str]
    seconds_to_healthy: float
    redis: Redis
    postgres: Postgres

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _relocate(text: str, places: dict[str, str]) -> str:
    for cluster, local in places.items():
        text = text.replace(cluster, local)
    return text


def _local_env(
    rendered: list[dict[str, Any]],
    container: dict[str, Any],
    workdir: Path,
    redis: Redis,
    postgres: Postgres,
    ports: dict[str, str],
) -> dict[str, str]:
    """The kubelet's environment for `container`, with Services and mounts made local."""
    env = kubelet.container_env(rendered, container)
    places = {
        REDIS_SERVICE: redis.address,
        POSTGRES_SERVICE: f"{LOOPBACK}:{postgres.port}",
        **{m["mountPath"]: str(workdir / m["name"]) for m in container.get("volumeMounts", [])},
    }
    for key, value in env.items():
        env[key] = _relocate(value, places)
    env.update(ports)
    return {**env, "PATH": os.environ["PATH"], "HOME": str(workdir)}


def _listeners(env: dict[str, str], http_port: int, udp_port: int) -> dict[str, str]:
    """Every TCP listener on a free loopback port, HTTP and UDP on the given ones."""
    ports = {key: f"{LOOPBACK}:{free_port()}" for key in DEFAULT_LISTENERS}
    ports["TTN_LW_HTTP_LISTEN"] = f"{LOOPBACK}:{http_port}"
    ports["TTN_LW_GRPC_LISTEN"] = f"{LOOPBACK}:{free_port()}"
    # ":1700=EU_863_870_TTN" -> "127.0.0.1:<udp>=EU_863_870_TTN": the chart's plan stays.
    udp = re.sub(r"^:\d+=", f"{LOOPBACK}:{udp_port}=", env["TTN_LW_GS_UDP_LISTENERS"])
    ports["TTN_LW_GS_UDP_LISTENERS"] = udp
    return ports


def _volumes(rendered: list[dict[str, Any]], spec: dict[str, Any], workdir: Path) -> None:
    """Each pod volume as a directory; ConfigMap volumes get their files."""
    for volume in spec.get("volumes", []):
        directory = workdir / volume["name"]
        directory.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            data = find(rendered, "ConfigMap", volume["configMap"]["name"])["data"]
            for name, content in data.items():
                (directory / name).write_text(content)


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run a container's process to completion; its combined output, or fail with it."""
    result = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"{' '.join(argv[:3])} exited {result.returncode}:\n{output}")
    return output


def _wait_healthy(stack_proc: subprocess.Popen[bytes], http_port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if stack_proc.poll() is not None:
            pytest.fail(f"ttn-lw-stack start exited {stack_proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://{LOOPBACK}:{http_port}/healthz", timeout=1).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"/healthz did not answer within {STARTUP_TIMEOUT:.0f} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, ttn_lw_stack: Path) -> Iterator[Stack]:
    """Redis, PostgreSQL and ttn-lw-stack as the kind profile configures them."""
    workdir = tmp_path_factory.mktemp("stack")
    rendered = objects(install_argv(deadline=60))
    deployment = find(rendered, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    [server] = spec["containers"]
    server_env = kubelet.container_env(rendered, server)
    uri = re.match(r"postgresql://(\w+)@[^/]+/(\w+)", server_env["TTN_LW_IS_DATABASE_URI"])
    assert uri is not None, server_env["TTN_LW_IS_DATABASE_URI"]
    http_port, udp_port = free_port(), free_port(socket.SOCK_DGRAM)
    ports = _listeners(server_env, http_port, udp_port)
    _volumes(rendered, spec, workdir)
    with (
        redis_server(workdir / "redis") as redis,
        postgres_server(uri[1], server_env["PGPASSWORD"], uri[2]) as pg,
    ):
        init_outputs = {}
        for init in spec["initContainers"]:
            env = _local_env(rendered, init, workdir, redis, pg, ports)
            argv = kubelet.container_argv(init, env, [str(ttn_lw_stack)])
            init_outputs[init["name"]] = _run(argv, env, workdir)
        env = _local_env(rendered, server, workdir, redis, pg, ports)
        log = workdir / "stack.log"
        started = time.monotonic()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                kubelet.container_argv(server, env, [str(ttn_lw_stack)]),
                env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            _wait_healthy(proc, http_port, log)
            yield Stack(
                rendered, env, http_port, udp_port, workdir, log, ttn_lw_stack, proc, init_outputs,
                time.monotonic() - started, redis, pg,
            )  # fmt: skip
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _smoke_argv(stack: Stack, key_dir: Path | None) -> list[str]:
    """The smoke pod's probe container argv with Services, ports and the key mount local.

    key_dir None: without the API key, the probe as it was before it registered gateways.
    """
    [probe] = smoke_pod(stack.rendered)["spec"]["containers"]
    argv = kubelet.container_argv(probe, {}, [])
    assert argv[:3] == ["python", "-m", "pipelines.smoke"], argv
    swaps = {
        "--host": LOOPBACK,
        "--udp-host": LOOPBACK,
        "--http-port": str(stack.http_port),
        "--udp-port": str(stack.udp_port),
    }
    for flag, value in swaps.items():
        argv[argv.index(flag) + 1] = value
    key_at = argv.index("--api-key-file")
    if key_dir is None:
        del argv[key_at : key_at + 2]
    else:
        [mount] = probe["volumeMounts"]
        argv[key_at + 1] = argv[key_at + 1].replace(mount["mountPath"], str(key_dir))
    return [sys.executable, *argv[1:]]


def _make_api_key(stack: Stack, key_dir: Path) -> str:
    """The smoke pod's init container, run for real: its script with `sh`."""
    pod = smoke_pod(stack.rendered)
    [init] = pod["spec"]["initContainers"]
    [mount] = init["volumeMounts"]
    bin_dir = stack.workdir / "image-bin"  # the image has ttn-lw-stack on PATH
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "ttn-lw-stack").exists():
        (bin_dir / "ttn-lw-stack").symlink_to(stack.binary.resolve())
    env = _local_env(stack.rendered, init, stack.workdir, stack.redis, stack.postgres, {})
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    argv = kubelet.container_argv(init, env, [])
    argv = [part.replace(mount["mountPath"], str(key_dir)) for part in argv]
    return _run(argv, env, stack.workdir)


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


def test_without_an_api_key_the_real_server_refuses_the_probe_gateway(stack: Stack) -> None:
    # Runs before any gateway connects (tests run in file order): the gauge this probe reads
    # without a key counts every UDP gateway, and a purged gateway stays connected (and
    # counted) until its UDP connection expires.
    metrics = httpx.get(f"http://{LOOPBACK}:{stack.http_port}/metrics").text
    assert 'ttn_lw_gs_connected_gateways{protocol="udp"} 1' not in metrics, "run this test first"
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


def test_the_helm_test_flow_registers_and_connects_a_gateway(stack: Stack, tmp_path: Path) -> None:
    init_output = _make_api_key(stack, tmp_path)
    key = json.loads((tmp_path / "api-key.json").read_text())["key"]
    assert key.startswith("NNSXS.")
    assert key not in init_output  # warn level: create-user-api-key logs the key at INFO
    started = time.monotonic()
    result = subprocess.run(
        _smoke_argv(stack, tmp_path), capture_output=True, text=True, timeout=120, check=False
    )
    took = time.monotonic() - started
    print(result.stdout, result.stderr, f"smoke run: {took:.2f} s", sep="\n")
    assert result.returncode == 0, stack.log_text()[-4000:]
    assert "5 of 5 checks passed" in result.stdout
    assert "connected over udp since" in result.stdout
    assert key not in result.stdout + result.stderr
    gateway = re.search(r"gateway (eui-[0-9a-f]{16}) purged", result.stdout)
    assert gateway is not None
    gone = httpx.get(
        f"http://{LOOPBACK}:{stack.http_port}/api/v3/gateways/{gateway[1]}",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert gone.status_code == 404
