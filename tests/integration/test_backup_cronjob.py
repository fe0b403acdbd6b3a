"""The chart's backup CronJob, run for real: its containers' scripts and argv as the kubelet
would run them (the rendered chart), against real Redis (one server, and Sentinel after a
failover) while writes go on, a real PostgreSQL, and Azurite as the storage account. The
backup is then fetched and restored: every key acknowledged before the snapshot came back
with its TTL, every table with its rows, every picture with its bytes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py

from pipelines.backup import store
from pipelines.migrate import postgres
from tests.support.azurite import Azurite, azurite_server
from tests.support.backup_pod import BACKUPS, CRONJOB, UPLOADS, rendered_backup, run_backup_pod
from tests.support.db_state import populate_postgres
from tests.support.paths import REPO_ROOT
from tests.support.polling import eventually
from tests.support.real_server import chart_stores
from tests.support.render import find
from tests.support.sentinel_pods import ADDRESSES, PASSWORD, chart_scripts, known, sentinel_pods
from tests.support.servers import binary, postgres_server, redis_server

TTL_SECONDS = 3600


@dataclass
class Writer:
    """Writes keys as fast as Redis acknowledges them, half with a TTL, in a thread."""

    client: redis_py.Redis
    acknowledged: list[tuple[float, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            key = f"live:{n}"
            self.client.set(key, f"v{n}", ex=TTL_SECONDS if n % 2 else None)
            self.acknowledged.append((time.monotonic(), key))
            n += 1

    def before(self, instant: float) -> list[str]:
        return [key for at, key in self.acknowledged if at < instant]


def fill(client: redis_py.Redis, keys: int) -> None:
    """Enough keys that the snapshot takes a while, so writes go on during it."""
    pipe = client.pipeline(transaction=False)
    for n in range(keys):
        pipe.set(f"session:{n}", os.urandom(64), ex=TTL_SECONDS if n % 3 == 0 else None)
    pipe.execute()


def snapshot_under_writes(
    client: redis_py.Redis, take: Any,
) -> tuple[list[str], str]:  # fmt: skip
    """Run `take()` (the backup) while a writer writes; the keys acknowledged before it."""
    writer = Writer(client)
    thread = threading.Thread(target=writer.run)
    thread.start()
    eventually("the writer to write", lambda: len(writer.acknowledged) > 100)
    started = time.monotonic()
    try:
        output = take()
    finally:
        writer.stop.set()
        thread.join()
    acked = writer.before(started)
    print(f"{len(acked)} keys acknowledged before the snapshot, "
          f"{len(writer.acknowledged) - len(acked)} during and after it")  # fmt: skip
    return acked, output


def check_restored(rdb: Path, workdir: Path, acked: list[str]) -> None:
    """The RDB loaded by a fresh redis-server holds every acknowledged key, TTLs kept."""
    (workdir / "restored").mkdir(parents=True)
    (workdir / "restored" / "dump.rdb").write_bytes(rdb.read_bytes())
    with redis_server(workdir / "restored", "--dbfilename", "dump.rdb") as restored:
        client = redis_py.Redis.from_url(restored.url, decode_responses=True)
        pipe = client.pipeline(transaction=False)
        for key in acked:
            pipe.get(key)
            pipe.pttl(key)
        answers = pipe.execute()
        for key, value, pttl in zip(acked, answers[::2], answers[1::2], strict=True):
            n = int(key.split(":")[1])
            assert value == f"v{n}", f"{key} did not come back"
            if n % 2:
                assert 0 < pttl <= TTL_SECONDS * 1000, f"{key} lost its TTL ({pttl})"
            else:
                assert pttl == -1, f"{key} gained a TTL ({pttl})"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with azurite_server(tmp_path_factory.mktemp("azurite")) as server:
        server.create(BACKUPS)
        uploads = server.create(UPLOADS)
        for n in range(3):
            uploads.upload_blob(f"end_device_pictures/app-1/dev-{n}/0.png", os.urandom(4096))
        yield server


def fetched(azurite: Azurite, to: Path) -> dict[str, Any]:
    cc = azurite.container(BACKUPS)
    manifest = store.fetch(cc, store.newest(cc), to)
    found: dict[str, Any] = json.loads(manifest.to_json())
    return found


def table_counts(pg: Any, database: str) -> dict[str, int]:
    return postgres.parse_table_counts(pg.psql(database, postgres.TABLE_COUNTS_SQL))


def test_one_redis_and_postgres_backed_up_while_writing_then_restored(
    azurite: Azurite, tmp_path: Path
) -> None:
    rendered, spec = rendered_backup()
    with chart_stores(tmp_path / "stores") as stores:
        user_db = stores.db.name
        populate_postgres(stores.pg, user_db, devices=200, gateways=5)
        client = redis_py.Redis.from_url(stores.redis.url)
        fill(client, 50_000)
        acked, output = snapshot_under_writes(
            client, lambda: run_backup_pod(rendered, spec, tmp_path / "pod", stores, azurite, {})
        )
        print(output)
        source_tables = table_counts(stores.pg, user_db)
    assert "redis: RDB snapshot of 127.0.0.1:" in output
    assert "postgres: pg_dump, " in output
    assert "pictures: 3 read from 'tts-uploads'" in output
    manifest = fetched(azurite, tmp_path / "fetched")
    names = sorted(f["name"] for f in manifest["files"])
    assert names[:2] == ["pictures/end_device_pictures/app-1/dev-0/0.png",
                         "pictures/end_device_pictures/app-1/dev-1/0.png"]  # fmt: skip
    assert names[-2:] == ["postgres.dump", "redis.rdb"]
    check_restored(tmp_path / "fetched" / "redis.rdb", tmp_path, acked)
    with postgres_server("restorer", "restorer-pw", "restored") as target:
        db = postgres.parse_uri(target.uri("restored", password="restorer-pw"))
        subprocess.run(
            [binary("pg_restore"), *postgres.restore_argv(str(tmp_path / "fetched/postgres.dump"),
                                                          replace=False)[1:]],
            env={**os.environ, **postgres.libpq_env(db)}, check=True, capture_output=True,
        )  # fmt: skip
        assert table_counts(target, "restored") == source_tables
    assert source_tables["end_devices"] == 200


def test_with_sentinel_the_backup_reads_the_primary_the_sentinels_name(
    azurite: Azurite, tmp_path: Path
) -> None:
    rendered, spec = rendered_backup(
        "--set", "redis.internal.replicas=3", "--set", "redis.internal.sentinel.enabled=true",
        "--set", "redis.internal.sentinel.startupWaitSeconds=20",
    )  # fmt: skip
    with sentinel_pods(tmp_path / "redis") as pods, chart_stores(tmp_path / "stores") as stores:
        scripts = chart_scripts()
        for pod in pods:
            pod.start(scripts)
        eventually("pod 0 primary, two replicas",
                   lambda: [p.role() for p in pods] == ["master", "slave", "slave"])  # fmt: skip
        eventually("every Sentinel to know both replicas and the other Sentinels",
                   lambda: all(known(pod) == ("2", "2") for pod in pods))  # fmt: skip
        pods[0].stop(signal.SIGKILL)  # a failover first: the old primary must not be the one read
        eventually("a Sentinel failover", lambda: any(p.role() == "master" for p in pods[1:]))
        [primary] = [p for p in pods[1:] if p.role() == "master"]
        populate_postgres(stores.pg, stores.db.name, devices=10, gateways=1)
        # The pods' Service names, as the Sentinels and the CronJob's config know them.
        places = {
            f"tts-thethingsstack-redis-{n}.tts-thethingsstack-redis.tts.svc": address
            for n, address in enumerate(ADDRESSES)
        }
        client = redis_py.Redis(host=primary.address, port=6379, password=PASSWORD)
        fill(client, 20_000)
        acked, output = snapshot_under_writes(
            client,
            lambda: run_backup_pod(
                rendered,
                spec,
                tmp_path / "pod",
                stores,
                azurite,
                places,
                {"REDISCLI_AUTH": PASSWORD},  # the pods' password, not the chart Secret's
            ),
        )
    print(output)
    assert f"redis: RDB snapshot of {primary.address}:6379" in output
    fetched(azurite, tmp_path / "fetched")
    check_restored(tmp_path / "fetched" / "redis.rdb", tmp_path, acked)


def test_the_alerts_watch_the_cronjob_the_chart_renders() -> None:
    """The Bicep's backup alerts select the CronJob by name: it must be the chart's."""
    bicep = (REPO_ROOT / "bicep/modules/cluster-monitoring.bicep").read_text()
    named = re.search(r"^var backupCronJob = '([^']+)'", bicep, re.MULTILINE)
    assert named is not None
    rendered, _ = rendered_backup()
    assert find(rendered, "CronJob", CRONJOB)["metadata"]["name"] == named[1]
