"""Copy The Things Stack's Redis state key by key: DUMP on the source, RESTORE on the target.

Why not the seed plan's `dump.rdb` copy plus `redis-cli SHUTDOWN`: with the default save
points SHUTDOWN first saves the in-memory dataset over the copied file, and with
`appendonly yes` (this chart) Redis loads its AOF on restart, not the RDB; Azure Managed
Redis has no file system to copy into at all. DUMP/RESTORE goes through the Redis protocol,
so the target's persistence (AOF, RDB or none) records the writes as any other writes, and it
works against any Redis the pipeline can connect to. TTLs are carried (PTTL), so sessions
and queues that expire keep expiring.

An RDB file (a VM's backup) is read by starting a throw-away redis-server on it and
copying from that: the same path as a live source.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError

from pipelines.migrate.errors import MigrationError

DEFAULT_BATCH: Final = 500


@dataclass(frozen=True)
class Copied:
    """What one database's copy did."""

    db: int
    keys: int
    skipped: int  # vanished or expired between SCAN and DUMP
    seconds: float


def client(url: str, db: int = 0) -> aioredis.Redis:
    """A client for `url` (redis:// or rediss://) on database `db`, binary-safe."""
    return aioredis.Redis.from_url(url, db=db, decode_responses=False)


@contextmanager
def _errors(what: str) -> Iterator[None]:
    """Redis errors as MigrationError: what failed and what to check, never the URL."""
    try:
        yield
    except AuthenticationError:
        raise MigrationError(
            f"{what}: Redis refused the password: check the URL's credentials"
        ) from None
    except (RedisConnectionError, OSError) as err:
        raise MigrationError(
            f"{what}: cannot reach Redis ({str(err)[:120]}): check host, port and TLS"
        ) from None
    except RedisError as err:
        raise MigrationError(f"{what}: Redis said {str(err)[:200]}") from None


@dataclass(frozen=True)
class Keys:
    """A database's keys: all of them, and those with a TTL (locks, dedup, sessions)."""

    total: int
    volatile: int


async def keyspace(url: str, what: str = "Redis") -> dict[int, Keys]:
    """{database: keys} of every non-empty database (INFO keyspace: keys=…,expires=…)."""
    async with client(url) as r:
        with _errors(what):
            info = await r.info("keyspace")
    return {
        int(name[2:]): Keys(int(stats["keys"]), int(stats["expires"]))
        for name, stats in info.items()
    }


async def used_memory(url: str, what: str = "Redis") -> int:
    """Bytes the dataset takes (INFO memory used_memory)."""
    async with client(url) as r:
        with _errors(what):
            info = await r.info("memory")
    return int(info["used_memory"])


async def check_empty(url: str, databases: list[int], what: str = "target Redis") -> None:
    """Fail unless each of `databases` is empty on the target."""
    found = await keyspace(url, what)
    full = {db: k.total for db, k in found.items() if db in databases and k.total}
    if full:
        listed = ", ".join(f"db {db}: {n} keys" for db, n in sorted(full.items()))
        raise MigrationError(
            f"{what} is not empty ({listed}): pass --replace to overwrite its keys with the "
            "source's (also how an interrupted copy is finished)"
        )


async def copy_database(
    source_url: str,
    target_url: str,
    db: int,
    *,
    replace: bool,
    batch: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] = lambda _: None,
) -> Copied:
    """Copy every key of database `db` (value, type and TTL) from source to target."""
    started, keys, skipped = time.monotonic(), 0, 0
    async with client(source_url, db) as src, client(target_url, db) as dst:
        cursor = 0
        while True:
            with _errors("source Redis"):
                cursor, names = await src.scan(cursor=cursor, count=batch)
            if names:
                copied = await _copy_batch(src, dst, names, replace)
                keys += copied
                skipped += len(names) - copied
                on_progress(keys)
            if cursor == 0:
                break
    return Copied(db, keys, skipped, time.monotonic() - started)


async def _copy_batch(
    src: aioredis.Redis, dst: aioredis.Redis, names: list[bytes | str], replace: bool
) -> int:
    read = src.pipeline(transaction=False)
    for name in names:
        read.dump(name)
        read.pttl(name)
    with _errors("source Redis"):
        answers = await read.execute()
    write = dst.pipeline(transaction=False)
    count = 0
    for name, payload, ttl in zip(names, answers[::2], answers[1::2], strict=True):
        if payload is None or ttl == -2:  # noqa: PLR2004 - gone since SCAN saw it
            continue
        write.restore(name, max(int(ttl), 0), payload, replace=replace)
        count += 1
    try:
        with _errors("target Redis"):
            await write.execute(raise_on_error=True)
    except MigrationError as err:
        if "BUSYKEY" in str(err):
            raise MigrationError(
                "target Redis already has a key the source has: pass --replace to overwrite"
            ) from None
        raise
    return count
