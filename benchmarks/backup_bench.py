"""Backup and restore-drill times on this machine (prints numbers; not a test).

    TTN_LW_STACK=… .venv/bin/python benchmarks/backup_bench.py [--devices 10000,100000]

For each size: the real server's schema (`ttn-lw-stack is-db migrate`) with one application
and `devices` end devices in PostgreSQL, five Redis keys per device (one with a TTL,
tests.support.db_state), and 20 pictures in Azurite's upload container. Then:

- backup: the chart's backup CronJob run as the kubelet would (tests/support/backup_pod.py):
  redis-cli --rdb, pg_dump, and the upload to Azurite;
- drill: pipelines.backup.drill as `dagger call restore-drill` runs it
  (tests/support/drill_host.py): fetch and check, load the dump, migrate into throw-away
  stores, `is-db migrate`, verify, and the real server's /healthz on the result.

It prints both times, the backup's size, and how each grows with the number of devices.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.backup import store
from pipelines.migrate import postgres
from tests.support.azurite import azurite_server
from tests.support.backup_pod import BACKUPS, UPLOADS, rendered_backup, run_backup_pod
from tests.support.db_state import populate_redis
from tests.support.drill_host import drilled
from tests.support.real_server import ChartStores, chart_stores

PICTURES = 20


def real_state(binary: Path, stores: ChartStores, devices: int) -> None:
    """The real schema, an application and `devices` end devices; their Redis keys."""
    db = stores.db
    env = {**os.environ, **postgres.libpq_env(db),
           "TTN_LW_IS_DATABASE_URI": postgres.tts_database_uri(db)}  # fmt: skip
    subprocess.run([str(binary), "is-db", "migrate"], env=env, check=True, capture_output=True)
    stores.pg.psql(db.name, "INSERT INTO applications (created_at, updated_at, application_id) "
                            "VALUES (now(), now(), 'app-1')")  # fmt: skip
    insert = (
        "INSERT INTO end_devices (created_at, updated_at, application_id, device_id, dev_eui, "  # noqa: S608 - an int below
        "join_eui) SELECT now(), now(), 'app-1', 'dev-' || d, upper(lpad(to_hex(d), 16, '0')), "
        f"'70B3D57ED0000000' FROM generate_series(1, {int(devices)}) d"
    )
    stores.pg.psql(db.name, insert)
    anyio.run(populate_redis, stores.redis.url, devices)


def measure(binary: Path, devices: int) -> tuple[float, float, float]:
    """(backup seconds, backup MiB, drill seconds) for one size."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with azurite_server(work / "azurite") as azurite, chart_stores(work / "live") as stores:
            azurite.create(BACKUPS)
            uploads = azurite.create(UPLOADS)
            for n in range(PICTURES):
                uploads.upload_blob(f"app-1.dev-{n}.01J/original.png", os.urandom(30_000))
            real_state(binary, stores, devices)
            rendered, spec = rendered_backup()
            started = time.monotonic()
            run_backup_pod(rendered, spec, work / "pod", stores, azurite, {})
            backup_s = time.monotonic() - started
            cc = azurite.container(BACKUPS)
            size = sum(b.size for b in cc.list_blobs()) / 2**20
            started = time.monotonic()
            with drilled(azurite, binary, work / "drill", stores):
                drill_s = time.monotonic() - started
            assert store.newest(cc)
            return backup_s, size, drill_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="10000,100000", help="comma-separated sizes")
    args = parser.parse_args()
    binary = Path(os.environ.get("TTN_LW_STACK", ""))
    if not binary.is_file():
        print("TTN_LW_STACK is not set: point it at the ttn-lw-stack binary", file=sys.stderr)
        return 2
    rows = []
    for devices in (int(n) for n in args.devices.split(",")):
        backup_s, size, drill_s = measure(binary, devices)
        rows.append((devices, backup_s, drill_s))
        print(f"{devices} devices: backup {backup_s:.1f} s ({size:.1f} MiB, "
              f"{5 * devices} Redis keys, {PICTURES} pictures); drill {drill_s:.1f} s")  # fmt: skip
    if len(rows) > 1:
        (small, b_small, d_small), (large, b_large, d_large) = rows[0], rows[-1]
        print(f"growth: {large / small:.0f}x the devices took {b_large / b_small:.1f}x the "
              f"backup time and {d_large / d_small:.1f}x the drill time")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
