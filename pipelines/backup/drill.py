"""The restore drill: a backup restored into throw-away stores, checked, and the real server
started on it; one verdict line.

The restore is `pipelines.migrate.run.migrate` with the backup's files as its source (the
dump loaded into a scratch database, the RDB served by a scratch redis-server) and
throw-away stores as its target: the same steps, checks and report as the live restore and
as a VM migration, so a drill that passes has rehearsed exactly what a restore does. The
executor's owner (the Dagger function, or a test) provides the stores and the health check.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import unquote, urlsplit

from pipelines.backup.manifest import BackupError, Manifest, age, parse_id
from pipelines.migrate import postgres
from pipelines.migrate.report import Inventory
from pipelines.migrate.run import Executor, Stores, migrate

# The drill's server: the components that read the restored stores (Identity Server:
# PostgreSQL; Network, Application and Join Server: Redis), as the chart starts them but
# without the Gateway Server's ports, the console, or TLS (no certificate in a drill).
TTS_START: Final = ["start", "is", "ns", "as", "js"]
HTTP_PORT: Final = 1885
_TLS_LISTENERS: Final = ("HTTP", "GRPC", "INTEROP", "AS_MQTT", "GS_MQTT", "GS_MQTT_V2",
                         "GS_TTIGW", "GS_BASIC_STATION")  # fmt: skip


def check_age(backup_id: str, now: datetime, max_age: timedelta) -> None:
    """Refuse a backup older than `max_age`, before any work: backups have stopped."""
    taken = parse_id(backup_id)
    if now - taken > max_age:
        hours = max_age.total_seconds() / 3600
        raise BackupError(
            f"restore drill: the newest backup, {backup_id}, is {age(taken, now)}, older than "
            f"--max-age ({hours:g} h): backups have stopped; look at the backup CronJob "
            "(kubectl -n tts get cronjob tts-thethingsstack-backup, and its last job's log)"
        )


def tts_env(target: Stores) -> tuple[dict[str, str], dict[str, str]]:
    """(environment, secrets) of `ttn-lw-stack` TTS_START on the restored stores."""
    redis = urlsplit(target.redis_url)
    env = {
        "TTN_LW_IS_DATABASE_URI": postgres.tts_database_uri(target.database),
        "TTN_LW_REDIS_ADDRESS": f"{redis.hostname}:{redis.port or 6379}",
        "TTN_LW_HTTP_LISTEN": f":{HTTP_PORT}",
        "TTN_LW_LOG_LEVEL": "warn",
        "TTN_LW_TELEMETRY_ENABLE": "false",
        **{f"TTN_LW_{name}_LISTEN_TLS": "" for name in _TLS_LISTENERS},
    }
    secrets = {"PGPASSWORD": target.database.password, "TTN_LW_REDIS_PASSWORD": redis.password}
    return env, {name: unquote(value) for name, value in secrets.items() if value}


async def restore_drill(
    ex: Executor,
    backup: Stores,
    target: Stores,
    scratch: postgres.Database,
    manifest: Manifest,
    now: datetime,
    health: Callable[[Stores], Awaitable[str]],
    log: Callable[[str], None] = print,
) -> str:
    """Restore `backup` into the empty `target`, verify, check the server; the verdict line."""
    migrated = await migrate(ex, backup, target, scratch, dry_run=False, replace=False, log=log)
    log(migrated.report)
    assert migrated.target is not None  # not a dry run
    return verdict(manifest, now, migrated.target, await health(target))


def healthy(body: str) -> str:
    """The verdict's health part from /healthz's answer: `TTS healthy (/healthz: OK)`."""
    try:
        status = str(json.loads(body)["status"])
    except (ValueError, KeyError, TypeError):
        status = body.strip()[:60]
    return f"TTS healthy (/healthz: {status})"


def verdict(manifest: Manifest, now: datetime, restored: Inventory, health: str) -> str:
    """`restore drill: backup … (6 h old) restored, 29 tables / 40,118 rows / 50,001 keys
    verified, 12 pictures checked, TTS healthy`."""
    taken = manifest.taken
    rows = sum(restored.tables.values())
    keys = sum(restored.redis_keys.values())
    return (
        f"restore drill: backup {taken:%Y-%m-%dT%H:%MZ} ({age(taken, now)}) restored, "
        f"{len(restored.tables)} tables / {rows:,} rows / {keys:,} keys verified, "
        f"{len(manifest.pictures)} pictures checked, {health}"
    )
