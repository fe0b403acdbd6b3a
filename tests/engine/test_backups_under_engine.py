"""`dagger call restore-drill` under a real engine, against a real backup in Azurite.

The backup is the real server's schema and state: `ttn-lw-stack is-db migrate` and an admin
user in a real PostgreSQL (pg_dump), keys with and without a TTL in a real Redis (its RDB),
and a picture, uploaded by pipelines.backup into Azurite on an address the engine's
containers reach (TTS_CI_ENGINE_HOST), over HTTPS with a certificate they are told to trust
(--ca-certificate). The drill builds the release's binaries from TTS_SOURCE_TREE (offline
engines reach no upstream git) and starts them on the restored state.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.backup import store
from pipelines.migrate import postgres
from tests.engine.conftest import require_engine
from tests.engine.test_module_under_engine import dagger, error_line
from tests.support.azurite import Azurite, azurite_server, token
from tests.support.real_server import admin_api_key
from tests.support.servers import binary, postgres_server, redis_server

require_engine()  # one skip line without the CLI or an engine it reaches

BACKUPS = "tts-backups"
BACKUP_ID = "20261205T020000Z"


def _needed(variable: str, what: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        pytest.skip(f"{variable} is not set: it names {what}")
    return value


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    host = _needed(
        "TTS_CI_ENGINE_HOST", "this machine's address as the engine's containers reach it"
    )
    stack = Path(_needed("TTN_LW_STACK", "the ttn-lw-stack binary that writes the backed-up state"))
    workdir = tmp_path_factory.mktemp("backup")
    with (
        azurite_server(workdir / "azurite", host) as server,
        postgres_server("ttsadmin", "live-pw", "ttn_lorawan") as pg,
        redis_server(workdir / "redis") as redis,
    ):
        db = postgres.parse_uri(pg.uri("ttn_lorawan", password="live-pw"))
        env = {**os.environ, **postgres.libpq_env(db),
               "TTN_LW_IS_DATABASE_URI": postgres.tts_database_uri(db)}  # fmt: skip
        subprocess.run([str(stack), "is-db", "migrate"], env=env, check=True, capture_output=True)
        admin_api_key(stack, db)
        for n in range(100):
            redis.cli("SET", f"ttn:v3:ns:devices:{n}", f"session-{n}")
            redis.cli("SET", f"ttn:v3:lock:{n}", "1", "EX", "3600")
        redis.cli("SAVE")
        files = workdir / "files"
        (files / "pictures/profile_pictures/admin").mkdir(parents=True)
        (files / "pictures/profile_pictures/admin/original.png").write_bytes(os.urandom(2048))
        (files / "redis.rdb").write_bytes((redis.directory / "dump.rdb").read_bytes())
        subprocess.run([binary("pg_dump"), *postgres.dump_argv(str(files / "postgres.dump"))[1:]],
                       env=env, check=True, capture_output=True)  # fmt: skip
        store.upload_backup(server.create(BACKUPS), files, BACKUP_ID, log=print)
        yield server


def drill_args(azurite: Azurite, tmp_path: Path, *extra: str) -> list[str]:
    tree = _needed("TTS_SOURCE_TREE", "a lorawan-stack git checkout the engine can build")
    (tmp_path / "token").write_text(token())
    return ["call", "restore-drill", "--account-url", azurite.account_url,
            "--storage-token", f"file://{tmp_path / 'token'}", "--container", BACKUPS,
            "--ca-certificate", str(azurite.ca), "--tts-source", tree, *extra]  # fmt: skip


def test_the_drill_restores_verifies_and_starts_the_release(
    dagger_cli: Path, module_dir: Path, azurite: Azurite, tmp_path: Path
) -> None:
    result, took = dagger(
        dagger_cli, module_dir, *drill_args(azurite, tmp_path, "--max-age", "3650d")
    )
    assert result.returncode == 0, result.stderr[-5000:]
    print(result.stdout)
    verdict = result.stdout.strip().splitlines()[-1]
    assert verdict.startswith("restore drill: backup 2026-12-05T02:00Z (")
    assert " tables / " in verdict
    assert verdict.endswith(" / 200 keys verified, 1 pictures checked, TTS healthy (/healthz: OK)")
    print(f"restore drill under the engine: {took:.0f} s")


def test_a_stale_or_damaged_backup_fails_in_one_line(
    dagger_cli: Path, module_dir: Path, azurite: Azurite, tmp_path: Path
) -> None:
    stale, _ = dagger(dagger_cli, module_dir, *drill_args(azurite, tmp_path, "--max-age", "26h"))
    assert stale.returncode != 0
    assert f"the newest backup, {BACKUP_ID}, is " in error_line(stale)
    assert "older than --max-age (26 h): backups have stopped" in error_line(stale)
    blob = azurite.container(BACKUPS).get_blob_client(f"{BACKUP_ID}/redis.rdb")
    data = blob.download_blob().readall()
    blob.upload_blob(data[: len(data) // 2], overwrite=True)
    try:
        damaged, _ = dagger(
            dagger_cli, module_dir, *drill_args(azurite, tmp_path, "--max-age", "3650d")
        )
    finally:
        blob.upload_blob(data, overwrite=True)
    assert damaged.returncode != 0
    assert "redis.rdb is " in error_line(damaged)
    assert "the copy is truncated or was changed; restore another backup" in error_line(damaged)
