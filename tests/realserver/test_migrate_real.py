"""The whole migration on state the real ttn-lw-stack wrote, and the real server on the target.

Source ("the VM"): PostgreSQL with the docker-compose credentials (root/root,
ttn_lorawan_dev) and Redis with `appendonly yes`, filled through the real server's API: an
admin and its API key, an application, gateways, an OTAA device and an ABP device with a
session and frame counter 42. The server is stopped before the copy (the cut-over's freeze).
Target ("AKS"): another PostgreSQL with another admin login, another Redis. The migration
runs the very steps the Dagger function runs (pipelines.migrate.run), with the host's tools
and the real binary for `is-db migrate`; then the real server starts on the target.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.migrate import postgres
from pipelines.migrate.errors import MigrationError
from pipelines.migrate.run import Stores
from tests.realserver.conftest import require_ttn_lw_stack
from tests.support import tts_api
from tests.support.migrate_host import HostExecutor, run_migrate
from tests.support.real_server import admin_api_key, running_stack
from tests.support.servers import Postgres, Redis, postgres_server, redis_server

require_ttn_lw_stack()  # without the binary: skipped, one line for the suite

GATEWAYS = [f"eui-00800000a00000{n:02x}" for n in range(1, 4)]
DEVICES = ["dev-otaa", "dev-abp"]


@dataclass(frozen=True)
class Vm:
    pg: Postgres
    redis: Redis
    stores: Stores
    api_key: str


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory, ttn_lw_stack: Path) -> Iterator[Vm]:
    workdir = tmp_path_factory.mktemp("vm")
    with (
        postgres_server("root", "root", "ttn_lorawan_dev") as pg,
        redis_server(workdir / "redis", "--appendonly", "yes") as redis,
    ):
        db = postgres.parse_uri(pg.uri("ttn_lorawan_dev", password="root"))
        with running_stack(ttn_lw_stack, workdir / "stack", redis, pg, db) as stack:
            key = admin_api_key(ttn_lw_stack, db)
            tts_api.application(stack, key, "app-1")
            for gateway in GATEWAYS:
                tts_api.gateway(stack, key, gateway, gateway[4:])
            ids = {}
            for n, device in enumerate(DEVICES, 1):
                ids[device] = tts_api.device(stack, key, "app-1", device, f"70B3D57ED000000{n}")
            session = tts_api.AbpSession("26011234", "11" * 16, last_f_cnt_up=42)
            tts_api.abp_session(stack, key, ids["dev-abp"], session)
        # The source server is stopped now: the cut-over freezes the VM before the copy.
        yield Vm(pg, redis, Stores(db, redis.url), key)


def _target(
    workdir: Path, appendonly: str
) -> tuple[AbstractContextManager[Postgres], AbstractContextManager[Redis]]:
    """A target PostgreSQL (an Azure-style admin login, and a scratch database) and Redis."""
    return (
        postgres_server("ttsadmin_azure", "azure-admin-password", "ttn_lorawan", "scratch"),
        redis_server(workdir / "redis", "--appendonly", appendonly),
    )


@pytest.mark.parametrize("appendonly", ["yes", "no"])
def test_the_real_server_on_the_target_sees_the_same_gateways_devices_and_session(
    vm: Vm, ttn_lw_stack: Path, tmp_path: Path, appendonly: str
) -> None:
    pg_cm, redis_cm = _target(tmp_path, appendonly)
    with pg_cm as pg, redis_cm as redis:
        db = postgres.parse_uri(pg.uri("ttn_lorawan", password=pg.password))
        scratch = postgres.parse_uri(pg.uri("scratch", password=pg.password))
        executor = HostExecutor(tmp_path, ttn_lw_stack)
        lines: list[str] = []
        started = time.monotonic()
        report = run_migrate(executor, vm.stores, Stores(db, redis.url), scratch, log=lines.append)
        took = time.monotonic() - started
        print("\n".join(lines), report, f"migration: {took:.1f} s", sep="\n")
        assert report.startswith("verified: ")
        owners = pg.psql("ttn_lorawan", "SELECT DISTINCT tableowner FROM pg_tables "
                         "WHERE schemaname = 'public'")  # fmt: skip
        assert owners.split() == ["ttsadmin_azure"]
        with running_stack(ttn_lw_stack, tmp_path / "stack", redis, pg, db) as target:
            gateways = target.api("GET", "/gateways?field_mask=ids", vm.api_key).json()
            assert sorted(g["ids"]["gateway_id"] for g in gateways["gateways"]) == GATEWAYS
            devices = target.api("GET", "/applications/app-1/devices", vm.api_key).json()
            assert sorted(d["ids"]["device_id"] for d in devices["end_devices"]) == sorted(DEVICES)
            abp = target.api(
                "GET", "/ns/applications/app-1/devices/dev-abp?field_mask=session", vm.api_key
            ).json()
            assert abp["session"]["dev_addr"] == "26011234"
            assert abp["session"]["last_f_cnt_up"] == 42  # frame counters survived


def test_dry_run_changes_nothing(vm: Vm, ttn_lw_stack: Path, tmp_path: Path) -> None:
    pg_cm, redis_cm = _target(tmp_path, "yes")
    with pg_cm as pg, redis_cm as redis:
        db = postgres.parse_uri(pg.uri("ttn_lorawan", password=pg.password))
        scratch = postgres.parse_uri(pg.uri("scratch", password=pg.password))
        lines: list[str] = []
        report = run_migrate(
            HostExecutor(tmp_path, ttn_lw_stack),
            vm.stores,
            Stores(db, redis.url),
            scratch,
            dry_run=True,
            log=lines.append,
        )
        print("\n".join(lines))
        assert report == "dry run: nothing was changed"
        assert "end_devices" in lines[0]
        assert "gateways" in lines[0]
        assert pg.psql("ttn_lorawan", postgres.TABLES_SQL).strip() == "0"
        assert redis.cli("DBSIZE").strip() == "0"


def test_a_source_written_by_a_newer_things_stack_is_refused(
    vm: Vm, ttn_lw_stack: Path, tmp_path: Path
) -> None:
    future = "20991231000000"
    vm.pg.psql(
        "ttn_lorawan_dev", f"INSERT INTO bun_migrations (name, group_id) VALUES ('{future}', 99)"
    )
    try:
        pg_cm, redis_cm = _target(tmp_path, "yes")
        with pg_cm as pg, redis_cm as redis:
            db = postgres.parse_uri(pg.uri("ttn_lorawan", password=pg.password))
            scratch = postgres.parse_uri(pg.uri("scratch", password=pg.password))
            with pytest.raises(MigrationError, match=rf"newer Things Stack .* \({future}\)"):
                run_migrate(
                    HostExecutor(tmp_path, ttn_lw_stack), vm.stores, Stores(db, redis.url), scratch
                )
            assert pg.psql("ttn_lorawan", postgres.TABLES_SQL).strip() == "0"  # nothing moved
    finally:
        vm.pg.psql("ttn_lorawan_dev", f"DELETE FROM bun_migrations WHERE name = '{future}'")
