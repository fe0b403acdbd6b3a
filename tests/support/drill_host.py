"""The restore drill on this machine, as `dagger call restore-drill` runs it: fetch the
newest backup from Azurite, restore it into throw-away stores with pipelines.backup.drill
(the host's PostgreSQL tools and redis-server, the real ttn-lw-stack), check /healthz."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx

from pipelines.backup import store
from pipelines.backup.drill import HTTP_PORT, TTS_START, healthy, restore_drill, tts_env
from pipelines.backup.manifest import redis_rdb
from pipelines.migrate import postgres
from pipelines.migrate.run import Stores, load_dump
from tests.support.azurite import Azurite
from tests.support.backup_pod import BACKUPS
from tests.support.migrate_host import HostExecutor
from tests.support.real_server import ChartStores, wait_healthy
from tests.support.servers import (
    LOOPBACK,
    Postgres,
    Redis,
    free_port,
    postgres_server,
    redis_server,
    stop,
)  # fmt: skip


def _healthz(binary: Path, workdir: Path, target: Stores) -> str:
    """The drill's health check: ttn-lw-stack on the restored stores answers /healthz."""
    env, secrets = tts_env(target)
    port = free_port()
    env = {**os.environ, **env, **secrets, "TTN_LW_HTTP_LISTEN": f"{LOOPBACK}:{port}",
           "TTN_LW_GRPC_LISTEN": f"{LOOPBACK}:{free_port()}",
           "TTN_LW_AS_MQTT_LISTEN": f"{LOOPBACK}:{free_port()}"}  # fmt: skip
    assert env["TTN_LW_HTTP_LISTEN"] != f":{HTTP_PORT}"  # never the live server's port
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "tts.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(binary), *TTS_START], env=env, cwd=workdir, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_healthy(proc, port, log)
        return healthy(httpx.get(f"http://{LOOPBACK}:{port}/healthz", timeout=5).text)
    finally:
        stop(proc)


@dataclass(frozen=True)
class Drilled:
    verdict: str
    pg: Postgres
    redis: Redis
    target: Stores


@contextmanager
def drilled(
    azurite: Azurite, binary: Path, workdir: Path, credentials: ChartStores
) -> Iterator[Drilled]:
    """The drill on this machine, as the Dagger function runs it: fetch the newest backup,
    restore it into throw-away stores (with the chart's credentials, so the chart's server
    can start on them too), verify, check /healthz; the stores stay up in the block."""
    cc = azurite.container(BACKUPS)
    manifest = store.fetch(cc, store.newest(cc), workdir)
    rdb = redis_rdb(manifest, workdir)
    executor = HostExecutor(workdir, binary)
    user, password = credentials.db.user, credentials.db.password
    lines: list[str] = []
    with (
        postgres_server(user, password, "scratch", "restored") as pg,
        redis_server(
            workdir / "backup-redis", "--dir", str(rdb.parent), "--dbfilename", rdb.name
        ) as backup_redis,  # fmt: skip
        redis_server(workdir / "restored-redis", password=credentials.redis.password) as redis,
    ):
        scratch = postgres.parse_uri(pg.uri("scratch", password=password))
        target = Stores(postgres.parse_uri(pg.uri("restored", password=password)), redis.url)

        async def health(restored: Stores) -> str:
            return await anyio.to_thread.run_sync(_healthz, binary, workdir / "health", restored)

        async def run() -> str:
            backup_db = await load_dump(executor, "postgres.dump", scratch, "backup")
            return await restore_drill(
                executor, Stores(backup_db, backup_redis.url), target, scratch, manifest,
                datetime.now(UTC), health, log=lines.append,
            )  # fmt: skip

        verdict = anyio.run(run)
        print("\n".join(lines), verdict, sep="\n")
        yield Drilled(verdict, pg, redis, target)
