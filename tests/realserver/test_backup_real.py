"""Backups of the real server's state, and the restore drill that proves them.

The live stores (the chart's Redis with AOF and PostgreSQL) are written by the real
ttn-lw-stack through its API: an admin and its API key, an application, gateways, and an ABP
device with a session at frame counter 42. The chart's backup CronJob runs while the server
runs (tests/support/backup_pod.py) into Azurite. The drill (pipelines.backup.drill) then
restores the newest backup into throw-away stores with the very steps the Dagger function
runs, and the real server, started on the restored state, serves the device's session.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.backup import store
from pipelines.backup.manifest import Manifest
from pipelines.migrate.errors import MigrationError
from tests.realserver.conftest import require_ttn_lw_stack
from tests.support import tts_api
from tests.support.azurite import Azurite, azurite_server
from tests.support.backup_pod import BACKUPS, UPLOADS, rendered_backup, run_backup_pod
from tests.support.drill_host import drilled
from tests.support.real_server import ChartStores, admin_api_key, chart_stores, running_stack

require_ttn_lw_stack()  # without the binary: skipped, one line for the suite

FRAME_COUNTER = 42


@dataclass(frozen=True)
class Live:
    stores: ChartStores
    api_key: str


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with azurite_server(tmp_path_factory.mktemp("azurite")) as server:
        server.create(BACKUPS)
        server.create(UPLOADS).upload_blob("profile_pictures/admin/original.png", os.urandom(900))
        yield server


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, ttn_lw_stack: Path, azurite: Azurite
) -> Iterator[Live]:
    """The live deployment, written by the real server, backed up once while it runs."""
    workdir = tmp_path_factory.mktemp("live")
    with chart_stores(workdir) as stores:
        with running_stack(ttn_lw_stack, workdir / "stack", stores.redis, stores.pg) as stack:
            key = admin_api_key(ttn_lw_stack, stores.db)
            tts_api.application(stack, key, "app-1")
            for n in range(1, 4):
                tts_api.gateway(stack, key, f"eui-00800000a000000{n}", f"00800000A000000{n}")
            ids = tts_api.device(stack, key, "app-1", "dev-abp", "70B3D57ED0000001")
            session = tts_api.AbpSession("26011234", "11" * 16, last_f_cnt_up=FRAME_COUNTER)
            tts_api.abp_session(stack, key, ids, session)
            rendered, spec = rendered_backup()
            started = time.monotonic()
            print(run_backup_pod(rendered, spec, workdir / "pod", stores, azurite, {}))
            print(f"backup (the CronJob's three containers): {time.monotonic() - started:.1f} s")
        yield Live(stores, key)


def test_the_drill_restores_the_backup_and_the_real_server_serves_the_session(
    live: Live, azurite: Azurite, ttn_lw_stack: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    cc = azurite.container(BACKUPS)
    manifest: Manifest = store.fetch(cc, store.newest(cc), tmp_path / "fetched")
    assert [e.name for e in manifest.pictures] == ["pictures/profile_pictures/admin/original.png"]
    with drilled(azurite, ttn_lw_stack, tmp_path / "drill", live.stores) as done:
        verdict = done.verdict
    print(f"drill: {time.monotonic() - started:.1f} s")
    assert verdict.startswith("restore drill: backup ")
    assert " min old) restored, " in verdict
    assert verdict.endswith(", 1 pictures checked, TTS healthy (/healthz: OK)")
    rows = int(verdict.split(" tables / ")[1].split(" rows")[0].replace(",", ""))
    assert rows > 0


def test_the_restored_state_serves_the_abp_session_with_its_frame_counter(
    live: Live, azurite: Azurite, ttn_lw_stack: Path, tmp_path: Path
) -> None:
    """The drill's target, started as the chart starts the server: the device's session."""
    with (
        drilled(azurite, ttn_lw_stack, tmp_path / "drill", live.stores) as done,
        running_stack(
            ttn_lw_stack, tmp_path / "stack", done.redis, done.pg, done.target.database
        ) as stack,  # fmt: skip
    ):
        path = "/ns/applications/app-1/devices/dev-abp?field_mask=session"
        abp = stack.api("GET", path, live.api_key).json()
        assert abp["session"]["dev_addr"] == "26011234"
        assert abp["session"]["last_f_cnt_up"] == FRAME_COUNTER
        gateways = stack.api("GET", "/gateways?field_mask=ids", live.api_key).json()
        assert len(gateways["gateways"]) == 3


def test_a_backup_from_a_newer_things_stack_is_refused_and_nothing_is_touched(
    live: Live, azurite: Azurite, ttn_lw_stack: Path, tmp_path: Path
) -> None:
    future = "20991231000000"
    insert = f"INSERT INTO bun_migrations (name, group_id) VALUES ('{future}', 99)"
    live.stores.pg.psql(live.stores.db.name, insert)
    try:
        rendered, spec = rendered_backup()
        run_backup_pod(rendered, spec, tmp_path / "pod", live.stores, azurite, {})
    finally:
        live.stores.pg.psql(live.stores.db.name,
                            f"DELETE FROM bun_migrations WHERE name = '{future}'")  # fmt: skip
    with (
        pytest.raises(MigrationError, match=rf"newer Things Stack .* \({future}\)"),
        drilled(azurite, ttn_lw_stack, tmp_path / "drill", live.stores),
    ):
        pass
