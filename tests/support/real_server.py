"""The chart's kind profile as processes on this machine, next to real Redis and PostgreSQL.

The chart is rendered exactly as `dagger call test-e-2-e` installs it (render.py), and each
container's process runs with the environment and argv the kubelet would give it
(kubelet.py). Only where things are differs: Service names and container ports become
127.0.0.1 and free ports, mounted volumes directories, and the stores are the ones given.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.migrate import postgres as pgmigrate
from tests.support import kubelet
from tests.support.render import find, install_argv, objects
from tests.support.servers import (
    LOOPBACK,
    Postgres,
    Redis,
    free_port,
    postgres_server,
    redis_server,
    stop,
)

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
# The Redis configurations of TTS the chart points at the one Redis (configmap.yaml).
REDIS_CONFIGS = ("REDIS", "CACHE_REDIS", "EVENTS_REDIS")


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

    def api(self, method: str, path: str, key: str, body: Any = None) -> httpx.Response:
        """One call of the stack's HTTP API (/api/v3) with an API key."""
        return httpx.request(
            method, f"http://{LOOPBACK}:{self.http_port}/api/v3{path}", json=body,
            headers={"Authorization": f"Bearer {key}"}, timeout=30,
        )  # fmt: skip


def relocate(text: str, places: dict[str, str]) -> str:
    """Cluster names and mount paths in `text` made local, in one pass (a local path may
    itself contain a mount path, e.g. /tmp), longest first (/etc/backup before /backup)."""
    pattern = "|".join(re.escape(p) for p in sorted(places, key=len, reverse=True))
    return re.sub(pattern, lambda m: places[m[0]], text) if places else text


def local_env(
    rendered: list[dict[str, Any]],
    container: dict[str, Any],
    workdir: Path,
    redis: Redis,
    postgres: Postgres,
    ports: dict[str, str],
) -> dict[str, str]:
    """The kubelet's environment for `container`, with Services and mounts made local.

    The stores are the given ones, with their credentials: the Redis password the chart
    sets (from its Secret) becomes `redis.password`.
    """
    env = kubelet.container_env(rendered, container)
    places = {
        REDIS_SERVICE: redis.address,
        POSTGRES_SERVICE: f"{LOOPBACK}:{postgres.port}",
        **{m["mountPath"]: str(workdir / m["name"]) for m in container.get("volumeMounts", [])},
    }
    for key, value in env.items():
        env[key] = relocate(value, places)
    for prefix in REDIS_CONFIGS:
        if f"TTN_LW_{prefix}_PASSWORD" in env:
            env[f"TTN_LW_{prefix}_PASSWORD"] = redis.password
        if redis.tls_ca is not None:  # in Azure the system roots verify Managed Redis
            env[f"TTN_LW_{prefix}_TLS_ROOT_CA"] = str(redis.tls_ca)
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


def pod_volumes(rendered: list[dict[str, Any]], spec: dict[str, Any], workdir: Path) -> None:
    """Each pod volume as a directory; ConfigMap volumes get their files."""
    for volume in spec.get("volumes", []):
        directory = workdir / volume["name"]
        directory.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            data = find(rendered, "ConfigMap", volume["configMap"]["name"])["data"]
            for name, content in data.items():
                (directory / name).write_text(content)


def run_to_end(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run a container's process to completion; its combined output, or fail with it."""
    result = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"{' '.join(argv[:3])} exited {result.returncode}:\n{output}")
    return output


def wait_healthy(stack_proc: subprocess.Popen[bytes], http_port: int, log: Path) -> None:
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


def rendered_server(
    *values: str,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, str]]:
    """The kind install's manifests (with extra helm value arguments), its Deployment's pod
    spec, and the server's env."""
    rendered = objects([*install_argv(deadline=60), *values])
    spec = find(rendered, "Deployment")["spec"]["template"]["spec"]
    [server] = spec["containers"]
    return rendered, spec, kubelet.container_env(rendered, server)


def admin_api_key(binary: Path, db: pgmigrate.Database) -> str:
    """An admin user `admin` in `db` and an API key with all its rights (as an operator would)."""
    env = {**os.environ, **pgmigrate.libpq_env(db), "TTN_LW_LOG_LEVEL": "warn",
           "TTN_LW_IS_DATABASE_URI": pgmigrate.tts_database_uri(db)}  # fmt: skip
    create = [str(binary), "is-db", "create-admin-user", "--id", "admin",
              "--email", "admin@example.com", "--password", "test-admin-password"]  # fmt: skip
    subprocess.run(create, env=env, check=True, capture_output=True)
    out = subprocess.run(
        [str(binary), "is-db", "create-user-api-key", "--user-id", "admin"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    key: str = json.loads(out)["key"]
    return key


def chart_database(server_env: dict[str, str]) -> tuple[str, str, str]:
    """(user, password, database) the chart gives TTS."""
    uri = re.match(r"postgresql://(\w+)@[^/]+/(\w+)", server_env["TTN_LW_IS_DATABASE_URI"])
    assert uri is not None, server_env["TTN_LW_IS_DATABASE_URI"]
    return uri[1], server_env["PGPASSWORD"], uri[2]


@dataclass(frozen=True)
class ChartStores:
    redis: Redis
    pg: Postgres
    db: pgmigrate.Database  # the chart's database, as its owner


@contextmanager
def chart_stores(workdir: Path, tls: bool = False) -> Iterator[ChartStores]:
    """Redis and PostgreSQL with the credentials the kind profile gives TTS (its Secret);
    `tls`: a TLS-only Redis, as Azure Managed Redis."""
    server_env = rendered_server()[2]
    user, password, database = chart_database(server_env)
    with (
        redis_server(
            workdir / "redis", password=server_env["TTN_LW_REDIS_PASSWORD"], tls=tls
        ) as redis,
        postgres_server(user, password, database) as pg,
    ):
        yield ChartStores(redis, pg, pgmigrate.parse_uri(pg.uri(database, password=password)))


@contextmanager
def running_stack(
    binary: Path,
    workdir: Path,
    redis: Redis,
    pg: Postgres,
    database: pgmigrate.Database | None = None,
    values: tuple[str, ...] = (),
) -> Iterator[Stack]:
    """The Deployment's init containers, then `start` until /healthz answers; stopped after.

    `database`: another database than the chart's (e.g. a migration's source or target);
    `values`: extra helm arguments for the chart (`--set`, `--values`).
    """
    rendered, spec, server_env = rendered_server(*values)
    http_port, udp_port = free_port(), free_port(socket.SOCK_DGRAM)
    ports = _listeners(server_env, http_port, udp_port)
    if database is not None:
        ports["TTN_LW_IS_DATABASE_URI"] = pgmigrate.tts_database_uri(database)
        ports["PGPASSWORD"] = database.password
    workdir.mkdir(parents=True, exist_ok=True)
    pod_volumes(rendered, spec, workdir)
    [server] = spec["containers"]
    init_outputs = {}
    for init in spec["initContainers"]:
        env = local_env(rendered, init, workdir, redis, pg, ports)
        argv = kubelet.container_argv(init, env, [str(binary)])
        init_outputs[init["name"]] = run_to_end(argv, env, workdir)
    env = local_env(rendered, server, workdir, redis, pg, ports)
    log = workdir / "stack.log"
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            kubelet.container_argv(server, env, [str(binary)]),
            env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_healthy(proc, http_port, log)
        yield Stack(
            rendered, env, http_port, udp_port, workdir, log, binary, proc, init_outputs,
            time.monotonic() - started, redis, pg,
        )  # fmt: skip
    finally:
        stop(proc)
