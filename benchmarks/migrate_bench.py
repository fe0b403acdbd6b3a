"""Migration throughput on this machine (prints numbers; not a test).

    .venv/bin/python benchmarks/migrate_bench.py [--devices 1000,10000] [--gateways-per 10]

For each size, a source shaped like a Things Stack (tests.support.db_state.py: IS tables
with `devices` end devices and devices/10 gateways; five Redis keys per device, one with a
TTL) on real PostgreSQL and Redis on loopback, and an empty target. It times the steps that
move data, exactly as `dagger call migrate` runs them (pipelines.migrate.run's Steps on the
host): pg_dump, pg_restore, and the Redis copy; then rows/s, keys/s, and how the total
grows with the size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.migrate import postgres
from pipelines.migrate.run import DUMP, SOURCE_REDIS_ENV, TARGET_REDIS_ENV, Step
from tests.support.db_state import populate
from tests.support.migrate_host import HostExecutor
from tests.support.servers import postgres_server, redis_server


def pg_step(db: postgres.Database, argv: list[str], what: str) -> Step:
    return Step("postgres", argv, what, secrets=postgres.libpq_env(db))


def measure(devices: int, gateways: int) -> tuple[float, int, float, int, float]:
    """(PostgreSQL seconds, rows, Redis seconds, keys, total seconds) for one size."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with (
            postgres_server("root", "root", "src") as src_pg,
            postgres_server("admin", "admin", "dst") as dst_pg,
            redis_server(work / "src-redis") as src_redis,
            redis_server(work / "dst-redis", "--appendonly", "yes") as dst_redis,
        ):
            keys = populate(src_pg, "src", src_redis.url, devices, gateways)
            rows = sum(
                postgres.parse_table_counts(src_pg.psql("src", postgres.TABLE_COUNTS_SQL)).values()
            )
            src = postgres.parse_uri(src_pg.uri("src", password=src_pg.password))
            dst = postgres.parse_uri(dst_pg.uri("dst", password=dst_pg.password))
            ex = HostExecutor(work)
            started = time.monotonic()
            anyio.run(ex.run, pg_step(src, postgres.dump_argv(DUMP), "pg_dump"))
            anyio.run(
                ex.run, pg_step(dst, postgres.restore_argv(DUMP, replace=False), "pg_restore")
            )
            pg_seconds = time.monotonic() - started
            urls = {SOURCE_REDIS_ENV: src_redis.url, TARGET_REDIS_ENV: dst_redis.url}
            argv = ["redis-copy", "--source-env", SOURCE_REDIS_ENV,
                    "--target-env", TARGET_REDIS_ENV, "--db", "0"]  # fmt: skip
            copy = Step("python", argv, "redis", secrets=urls)
            began = time.monotonic()
            anyio.run(ex.run, copy)
            redis_seconds = time.monotonic() - began
            return pg_seconds, rows, redis_seconds, keys, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="1000,10000", help="comma-separated sizes")
    parser.add_argument("--gateways-per", type=int, default=10, help="devices per gateway")
    args = parser.parse_args()
    totals = []
    for devices in (int(n) for n in args.devices.split(",")):
        gateways = max(1, devices // args.gateways_per)
        pg_s, rows, redis_s, keys, total = measure(devices, gateways)
        totals.append((devices, total))
        print(f"{devices} devices, {gateways} gateways: PostgreSQL {rows} rows in {pg_s:.2f} s "
              f"({rows / pg_s:.0f} rows/s); Redis {keys} keys in {redis_s:.2f} s "
              f"({keys / redis_s:.0f} keys/s); data moved in {total:.2f} s")  # fmt: skip
    if len(totals) > 1:
        (small, t_small), (large, t_large) = totals[0], totals[-1]
        print(f"growth: {large / small:.0f}x the devices took {t_large / t_small:.1f}x the time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
