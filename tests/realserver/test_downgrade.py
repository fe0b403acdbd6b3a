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

import pytest

from pipelines.migrate import postgres
from tests.realserver.conftest import SKIP_REASON
from tests.support.real_stack import (
    Stack,
    admin_api_key,
    chart_database,
    chart_redis_password,
    rendered_server,
    running_stack,
)
from tests.support.servers import postgres_server, redis_server

pytestmark = pytest.mark.realserver

if not os.environ.get("TTN_LW_STACK"):  # one skip line for the whole suite
    pytest.skip(SKIP_REASON, allow_module_level=True)
if not os.environ.get("TTN_LW_STACK_PREVIOUS"):
    pytest.skip(
        "TTN_LW_STACK_PREVIOUS is not set: it names a ttn-lw-stack one schema migration older "
        "(v3.31.1)",
        allow_module_level=True,
    )

SESSION = {"dev_addr": "26011CAF", "last_f_cnt_up": 4711}


def _version(binary: Path) -> str:
    out = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=True)
    return next(line.split()[-1] for line in out.stdout.splitlines() if "Version:" in line)


def test_the_previous_release_runs_on_a_schema_the_newer_one_migrated(
    tmp_path: Path, ttn_lw_stack: Path
) -> None:
    previous = Path(os.environ["TTN_LW_STACK_PREVIOUS"])
    newer, older = _version(ttn_lw_stack), _version(previous)
    print(f"deploy {newer}, then roll back to {older}")
    server_env = rendered_server()[2]
    user, password, database = chart_database(server_env)
    with (
        redis_server(tmp_path / "redis", password=chart_redis_password(server_env)) as redis,
        postgres_server(user, password, database) as pg,
    ):
        db = postgres.parse_uri(pg.uri(database, password=password))
        with running_stack(ttn_lw_stack, tmp_path / "newer", redis, pg) as stack:
            key = admin_api_key(ttn_lw_stack, db)
            _register_device(stack, key)
        migrations = pg.psql(database, "SELECT name FROM bun_migrations ORDER BY name").split()
        assert migrations[-1] == "20240806000000"  # 3.32.0's own migration ran

        with running_stack(previous, tmp_path / "older", redis, pg) as rolled_back:
            print(rolled_back.init_outputs["migrate"][-300:])
            device = rolled_back.api(
                "GET", "/ns/applications/app-1/devices/dev-1?field_mask=session", key
            ).json()
            assert device["session"]["dev_addr"] == SESSION["dev_addr"]
            assert device["session"]["last_f_cnt_up"] == SESSION["last_f_cnt_up"]
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


def _register_device(stack: Stack, key: str) -> None:
    """An application and an ABP device whose NS session has a frame counter."""

    def ok(response: object) -> None:
        assert getattr(response, "status_code", 0) == 200, getattr(response, "text", "")

    ok(stack.api("POST", "/users/admin/applications", key,
                 {"application": {"ids": {"application_id": "app-1"}}}))  # fmt: skip
    ids = {"device_id": "dev-1", "dev_eui": "70B3D57ED00000D1",
           "application_ids": {"application_id": "app-1"}}  # fmt: skip
    ok(stack.api("POST", "/applications/app-1/devices", key, {"end_device": {
        "ids": ids, "network_server_address": "localhost",
        "application_server_address": "localhost"}}))  # fmt: skip
    keys = ("f_nwk_s_int_key", "nwk_s_enc_key", "s_nwk_s_int_key")
    session = {**SESSION, "keys": {k: {"key": "22" * 16} for k in keys}}
    ns = {"ids": ids, "frequency_plan_id": "EU_863_870_TTN", "lorawan_version": "MAC_V1_0_3",
          "lorawan_phy_version": "PHY_V1_0_3_REV_A", "supports_join": False,
          "session": session}  # fmt: skip
    paths = ["frequency_plan_id", "lorawan_version", "lorawan_phy_version", "supports_join",
             "session.dev_addr", "session.last_f_cnt_up",
             *(f"session.keys.{k}.key" for k in keys)]  # fmt: skip
    ok(stack.api("PUT", "/ns/applications/app-1/devices/dev-1", key,
                 {"end_device": ns, "field_mask": {"paths": paths}}))  # fmt: skip
