"""What a rollback across a schema migration does, with the two real releases.

`helm rollback` (and `--atomic` after a failed smoke) puts the previous release's pods back
on a database the newer release already migrated. TTN_LW_STACK is v3.32.0, which adds
migration 20240806000000_user_rights; TTN_LW_STACK_PREVIOUS is v3.31.1, which does not know
it. The chart's kind profile runs each in turn on the same Redis and PostgreSQL, init
containers included (the older one's `is-db migrate` meets a newer schema).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pipelines.migrate import postgres
from tests.realserver.conftest import require_ttn_lw_stack
from tests.support import peers, tts_api
from tests.support.real_server import (
    admin_api_key,
    chart_stores,
    running_stack,
)

require_ttn_lw_stack()  # without the binary: skipped, one line for the suite
PREVIOUS = peers.require(
    "TTN_LW_STACK_PREVIOUS", "a ttn-lw-stack one schema migration older (v3.31.1)"
)

SESSION = tts_api.AbpSession("26011CAF", "22" * 16, last_f_cnt_up=4711)


def _version(binary: Path) -> str:
    out = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=True)
    return next(line.split()[-1] for line in out.stdout.splitlines() if "Version:" in line)


def test_the_previous_release_runs_on_a_schema_the_newer_one_migrated(
    tmp_path: Path, ttn_lw_stack: Path
) -> None:
    previous = Path(PREVIOUS)
    newer, older = _version(ttn_lw_stack), _version(previous)
    print(f"deploy {newer}, then roll back to {older}")
    with chart_stores(tmp_path) as stores:
        redis, pg, db = stores.redis, stores.pg, stores.db
        with running_stack(ttn_lw_stack, tmp_path / "newer", redis, pg) as stack:
            key = admin_api_key(ttn_lw_stack, db)
            tts_api.application(stack, key, "app-1")
            ids = tts_api.device(stack, key, "app-1", "dev-1", "70B3D57ED00000D1")
            tts_api.abp_session(stack, key, ids, SESSION)
        migrations = pg.psql(db.name, "SELECT name FROM bun_migrations ORDER BY name").split()
        assert migrations[-1] == "20240806000000"  # 3.32.0's own migration ran

        with running_stack(previous, tmp_path / "older", redis, pg) as rolled_back:
            print(rolled_back.init_outputs["migrate"][-300:])
            device = rolled_back.api(
                "GET", "/ns/applications/app-1/devices/dev-1?field_mask=session", key
            ).json()
            assert device["session"]["dev_addr"] == SESSION.dev_addr
            assert device["session"]["last_f_cnt_up"] == SESSION.last_f_cnt_up
            users = rolled_back.api("GET", "/users/admin", key)
            assert users.status_code == 200, users.text
            print(f"{older} on {newer}'s schema: /healthz OK, device session and users readable")

        # TTS ships down-migrations, but this one cannot run on PostgreSQL: undoing a
        # migration is a database restore, not `is-db migrate --rollback`.
        env = {**os.environ, **postgres.libpq_env(db), "TTN_LW_LOG_LEVEL": "warn",
               "TTN_LW_IS_DATABASE_URI": postgres.tts_database_uri(db)}  # fmt: skip
        down = subprocess.run(
            [str(ttn_lw_stack), "is-db", "migrate", "--rollback"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        print(f"is-db migrate --rollback: exit {down.returncode}")
        assert down.returncode != 0
        assert "2BP01" in down.stdout + down.stderr  # dependent objects: the user_accounts view
