"""The migration's steps against real PostgreSQL and Redis servers on loopback, both sides.

The source is filled with tests.support.db_state.py (the shape the real server keeps its
state in); tests/realserver/test_migrate_real.py runs the whole migration on state written by
the real ttn-lw-stack, including the steps that need it (`is-db migrate`, the version check).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from pipelines.migrate import postgres
from pipelines.migrate.errors import MigrationError
from pipelines.migrate.redis import client
from pipelines.migrate.run import DUMP, Step, Stores, inventory
from tests.support.db_state import populate, populate_redis
from tests.support.migrate_host import HostExecutor, run_migrate
from tests.support.paths import REPO_ROOT
from tests.support.servers import (
    Postgres,
    Redis,
    Sshd,
    free_port,
    postgres_server,
    redis_server,
    sshd_server,
    stop,
)

DEVICES, GATEWAYS = 50, 7
# The VM's docker-compose credentials (upstream docker-compose.yml) and an Azure-style admin.
SOURCE_USER, SOURCE_DB = "root", "ttn_lorawan_dev"
TARGET_USER, TARGET_DB = "ttsadmin_azure", "ttn_lorawan"


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[Postgres, Redis, Stores]]:
    with (
        postgres_server(SOURCE_USER, "root", SOURCE_DB) as pg,
        redis_server(tmp_path / "source-redis", "--appendonly", "yes") as redis,
    ):
        populate(pg, SOURCE_DB, redis.url, DEVICES, GATEWAYS)
        yield pg, redis, Stores(postgres.parse_uri(pg.uri(SOURCE_DB, password="root")), redis.url)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[Postgres, Redis, Stores]]:
    with (
        postgres_server(TARGET_USER, "target-secret", TARGET_DB, "scratch") as pg,
        redis_server(tmp_path / "target-redis", "--appendonly", "yes") as redis,
    ):
        uri = pg.uri(TARGET_DB, password=pg.password)
        yield pg, redis, Stores(postgres.parse_uri(uri), redis.url)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.migrate", *args],
        cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_dry_run_inventories_both_sides_and_changes_nothing(
    source: tuple[Postgres, Redis, Stores],
    target: tuple[Postgres, Redis, Stores],
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    scratch = postgres.parse_uri(target[0].uri("scratch", password=target[0].password))
    report = run_migrate(
        HostExecutor(tmp_path), source[2], target[2], scratch, dry_run=True, log=lines.append
    )
    print("\n".join(lines))
    assert report == "dry run: nothing was changed"
    assert re.search(rf"^ +end_devices +{DEVICES}$", lines[0], flags=re.M)
    assert re.search(rf"^ +gateways +{GATEWAYS}$", lines[0], flags=re.M)
    assert f"Redis: {DEVICES * 5 + 1} keys" in lines[0]
    assert "target, empty" in lines[1]
    assert target[0].psql(TARGET_DB, postgres.TABLES_SQL).strip() == "0"
    assert target[1].cli("DBSIZE").strip() == "0"


def test_a_non_empty_target_is_refused_before_anything_moves(
    source: tuple[Postgres, Redis, Stores],
    target: tuple[Postgres, Redis, Stores],
    tmp_path: Path,
) -> None:
    target[1].cli("SET", "ttn:v3:existing", "1")
    scratch = postgres.parse_uri(target[0].uri("scratch", password=target[0].password))
    with pytest.raises(
        MigrationError, match=r"target is not empty \(0 tables, 1 Redis keys\): pass --replace"
    ):
        run_migrate(HostExecutor(tmp_path), source[2], target[2], scratch)
    assert target[1].cli("DBSIZE").strip() == "1"
    assert target[0].psql(TARGET_DB, postgres.TABLES_SQL).strip() == "0"


def test_postgres_rows_arrive_owned_by_the_target_login(
    source: tuple[Postgres, Redis, Stores],
    target: tuple[Postgres, Redis, Stores],
    tmp_path: Path,
) -> None:
    ex = HostExecutor(tmp_path)
    src, dst = source[2].database, target[2].database

    def step(db: postgres.Database, argv: list[str]) -> Step:
        env = postgres.libpq_env(db)
        return Step("postgres", argv, " ".join(argv[:1]), env={}, secrets=env)

    anyio.run(ex.run, step(src, postgres.dump_argv(DUMP)))
    anyio.run(ex.run, step(dst, postgres.restore_argv(DUMP, replace=False)))
    before, after = (
        anyio.run(inventory, ex, source[2], "source"),
        anyio.run(inventory, ex, target[2], "source"),
    )
    assert after.tables == before.tables
    assert before.tables["end_devices"] == DEVICES
    owners = target[0].psql(
        TARGET_DB, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname='public'"
    )
    assert owners.split() == [TARGET_USER]  # not the VM's root
    # Restoring again without --replace fails inside one transaction: nothing half-done.
    with pytest.raises(MigrationError, match="pg_restore"):
        anyio.run(ex.run, step(dst, postgres.restore_argv(DUMP, replace=False)))
    anyio.run(ex.run, step(dst, postgres.restore_argv(DUMP, replace=True)))
    assert anyio.run(inventory, ex, target[2], "source").tables == before.tables


async def sample(url: str, key: str) -> tuple[bytes | None, int]:
    async with client(url) as r:
        return await r.dump(key), await r.pttl(key)


@pytest.mark.parametrize("appendonly", ["yes", "no"])
def test_redis_copy_keeps_values_types_and_ttls(
    source: tuple[Postgres, Redis, Stores], tmp_path: Path, appendonly: str
) -> None:
    with redis_server(tmp_path / "t", "--appendonly", appendonly, "--save", "") as dst:
        env = {"SRC": source[1].url, "DST": dst.url}
        done = run_cli(
            "redis-copy", "--source-env", "SRC", "--target-env", "DST", "--db", "0", env=env
        )
        assert done.returncode == 0, done.stderr
        print(done.stdout)
        assert f"Redis db 0: {DEVICES * 5 + 1} keys copied" in done.stdout
        for key in ("ttn:v3:ns:devices:uid:app-1.dev-7", "ttn:v3:as:devices:uid:app-1.dev-7",
                    "ttn:v3:ns:devices:uplink:app-1.dev-7"):  # fmt: skip
            assert anyio.run(sample, dst.url, key)[0] == anyio.run(sample, source[1].url, key)[0]
        value, ttl = anyio.run(sample, dst.url, "ttn:v3:ns:devices:lock:app-1.dev-7")
        assert value is not None
        assert 0 < ttl <= 3_600_000  # still expiring
        assert anyio.run(sample, dst.url, "ttn:v3:ns:devices:uid:app-1.dev-7")[1] == -1
    # With AOF the copy went through the append-only file: a restarted server has it all.
    if appendonly == "yes":
        with redis_server(tmp_path / "t", "--appendonly", "yes") as again:
            assert again.cli("DBSIZE").strip() == str(DEVICES * 5 + 1)


def test_an_interrupted_copy_is_refused_then_finished_with_replace(
    source: tuple[Postgres, Redis, Stores], target: tuple[Postgres, Redis, Stores]
) -> None:
    # What a copy killed half-way leaves: some of the keys.
    anyio.run(populate_redis, target[1].url, DEVICES // 2)
    env = {"SRC": source[1].url, "DST": target[1].url}
    refused = run_cli(
        "redis-copy", "--source-env", "SRC", "--target-env", "DST", "--db", "0", env=env
    )
    assert refused.returncode == 1
    assert "target Redis is not empty (db 0: " in refused.stderr
    assert "pass --replace" in refused.stderr
    finished = run_cli("redis-copy", "--source-env", "SRC", "--target-env", "DST", "--db", "0",
                       "--replace", env=env)  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    assert target[1].cli("DBSIZE").strip() == str(DEVICES * 5 + 1)
    key = "ttn:v3:ns:devices:uid:app-1.dev-3"  # overwritten with the source's value
    assert anyio.run(sample, target[1].url, key)[0] == anyio.run(sample, source[1].url, key)[0]


def test_a_wrong_redis_password_is_named_and_never_echoed(
    source: tuple[Postgres, Redis, Stores], tmp_path: Path
) -> None:
    with redis_server(tmp_path / "locked", password="right-one") as locked:
        wrong = locked.url.replace("right-one", "wrong-one")
        env = {"SRC": source[1].url, "DST": wrong}
        result = run_cli(
            "redis-copy", "--source-env", "SRC", "--target-env", "DST", "--db", "0", env=env
        )
    assert result.returncode == 1
    assert "target Redis" in result.stderr
    # redis-py raises AuthenticationError for Redis's WRONGPASS reply; migrate names it.
    assert result.stderr.strip().splitlines()[-1] == (
        "migrate: target Redis: Redis refused the password: check the URL's credentials"
    )
    assert "wrong-one" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_wrong_postgres_password_fails_the_step_without_echoing_it(
    source: tuple[Postgres, Redis, Stores], tmp_path: Path
) -> None:
    bad = postgres.parse_uri(source[0].uri(SOURCE_DB, password="nope-secret"))
    step = Step(
        "postgres", postgres.psql_argv("SELECT 1"), "probe", secrets=postgres.libpq_env(bad)
    )
    with pytest.raises(MigrationError, match="password authentication failed") as err:
        anyio.run(HostExecutor(tmp_path).run, step)
    assert "nope-secret" not in str(err.value)


@contextmanager
def tunnel(
    sshd: Sshd, *forwards: str, known_hosts: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    """`python -m pipelines.migrate tunnel` on loopback until the block ends."""
    hosts = known_hosts or sshd.known_hosts
    argv = [sys.executable, "-m", "pipelines.migrate", "tunnel", "--ssh-host", sshd.target,
            "--key-file", str(sshd.key_file), "--known-hosts", str(hosts)]  # fmt: skip
    for forward in forwards:
        argv += ["--forward", forward]
    proc = subprocess.Popen(
        argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield proc
    finally:
        stop(proc)


def test_a_vm_is_read_through_an_ssh_tunnel(
    source: tuple[Postgres, Redis, Stores], target: tuple[Postgres, Redis, Stores], tmp_path: Path
) -> None:
    """The VM publishes PostgreSQL and Redis on its loopback only: an SSH local forward."""
    with sshd_server(tmp_path / "sshd") as sshd:
        pg_port, redis_port = free_port(), free_port()
        forwards = (
            f"{pg_port}:127.0.0.1:{source[0].port}",
            f"{redis_port}:127.0.0.1:{source[1].port}",
        )
        with tunnel(sshd, *forwards) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "READY", (
                proc.stderr.read() if proc.stderr else ""
            )
            via = Stores(
                postgres.parse_uri(
                    f"postgresql://root:root@127.0.0.1:{pg_port}/{SOURCE_DB}?sslmode=disable"
                ),
                f"redis://127.0.0.1:{redis_port}",
            )
            seen = anyio.run(inventory, HostExecutor(tmp_path), via, "source")
            env = {"SRC": via.redis_url, "DST": target[1].url}
            copied = run_cli(
                "redis-copy", "--source-env", "SRC", "--target-env", "DST", "--db", "0", env=env
            )
    assert seen.tables["end_devices"] == DEVICES
    assert seen.redis_keys == {0: DEVICES * 5 + 1}
    assert copied.returncode == 0, copied.stderr
    assert target[1].cli("DBSIZE").strip() == str(DEVICES * 5 + 1)


def test_a_tunnel_to_an_unknown_host_key_is_refused(tmp_path: Path) -> None:
    with sshd_server(tmp_path / "sshd") as sshd:
        other = tmp_path / "other_host_key"  # another machine's key for that address
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True
        )
        stranger = tmp_path / "known_hosts"
        stranger.write_text(f"[127.0.0.1]:{sshd.port} {Path(f'{other}.pub').read_text()}")
        with tunnel(sshd, "1:127.0.0.1:2", known_hosts=stranger) as proc:
            code = proc.wait(timeout=30)
            err = proc.stderr.read() if proc.stderr else ""
    assert code == 1
    assert "host key of 127.0.0.1 is not in the known_hosts given" in err
    assert "Traceback" not in err


def test_files_from_the_vm_are_sources_too(
    source: tuple[Postgres, Redis, Stores], target: tuple[Postgres, Redis, Stores], tmp_path: Path
) -> None:
    """What `migrate --redis-rdb/--postgres-dump` does with files: a throw-away redis-server
    loads the RDB, and the dump is restored into a scratch database to be counted."""
    rdb_dir = tmp_path / "rdb"
    rdb_dir.mkdir()
    source[1].cli("--rdb", str(rdb_dir / "dump.rdb"))  # as `redis-cli --rdb` on the VM
    ex = HostExecutor(tmp_path)
    dump = postgres.dump_argv("given.dump")
    anyio.run(
        ex.run,
        Step("postgres", dump, "pg_dump on the VM", secrets=postgres.libpq_env(source[2].database)),
    )
    with redis_server(rdb_dir, "--dbfilename", "dump.rdb") as loaded:
        scratch = postgres.parse_uri(target[0].uri("scratch", password=target[0].password))
        restore = postgres.restore_argv("given.dump", replace=False)
        anyio.run(
            ex.run,
            Step("postgres", restore, "restore to count", secrets=postgres.libpq_env(scratch)),
        )
        from_files = anyio.run(inventory, ex, Stores(scratch, loaded.url), "source")
    live = anyio.run(inventory, ex, source[2], "source")
    assert from_files.tables == live.tables
    assert from_files.redis_keys == live.redis_keys
    assert from_files.redis_volatile == live.redis_volatile
