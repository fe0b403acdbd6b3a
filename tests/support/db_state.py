"""A Things Stack's state in the shape the real one keeps it, for machines without the binary.

PostgreSQL: a subset of the Identity Server schema of v3.32.0 (table names as `is-db
migrate` creates them, the columns the copy and the counts touch) with `bun_migrations`.
Redis: keys under TTS's root namespace `ttn:v3` (pkg/redis DefaultRedisConfig
RootNamespace), a mix of strings, hashes and sorted sets as the NS/AS/JS registries keep
them, binary values, and TTLs on the ones TTS expires (locks, uplink dedup, sessions).
tests/realserver runs the same migration on state the real server wrote.
"""

from __future__ import annotations

import os
import random

import anyio

from pipelines.migrate.redis import client
from tests.support.servers import Postgres

SCHEMA = """
CREATE TABLE bun_migrations (id bigserial PRIMARY KEY, name varchar, group_id bigint,
  migrated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE users (id uuid PRIMARY KEY, account_id varchar UNIQUE, primary_email varchar,
  admin boolean, created_at timestamptz DEFAULT now());
CREATE TABLE applications (id uuid PRIMARY KEY, application_id varchar UNIQUE, name varchar);
CREATE TABLE gateways (id uuid PRIMARY KEY, gateway_id varchar UNIQUE, gateway_eui bytea,
  frequency_plan_id varchar, attributes jsonb);
CREATE TABLE end_devices (id uuid PRIMARY KEY, application_id varchar, device_id varchar,
  dev_eui bytea, join_eui bytea, UNIQUE (application_id, device_id));
CREATE TABLE api_keys (id uuid PRIMARY KEY, api_key_id varchar, key varchar, rights int[]);
"""
# v3.32.0's migration names (bun_migrations.name), the newest last.
MIGRATIONS = [f"2023{n:04d}000000" for n in range(1, 15)] + ["20240806000000"]


def populate_postgres(pg: Postgres, database: str, devices: int, gateways: int) -> None:
    """The schema and `devices` end devices, `gateways` gateways, one user and application."""
    pg.psql(database, SCHEMA)
    values = ",".join(f"('{name}', 1)" for name in MIGRATIONS)
    pg.psql(database, f"INSERT INTO bun_migrations (name, group_id) VALUES {values}")
    pg.psql(
        database,
        "INSERT INTO users VALUES (gen_random_uuid(), 'admin', 'admin@example.com', true);"
        "INSERT INTO applications VALUES (gen_random_uuid(), 'app-1', 'Application 1');"
        "INSERT INTO api_keys VALUES (gen_random_uuid(), 'K1', 'hash', '{1,2,3}');",
    )
    pg.psql(
        database,
        "INSERT INTO gateways SELECT gen_random_uuid(), 'eui-' || lpad(to_hex(g), 16, '0'), "
        "decode(lpad(to_hex(g), 16, '0'), 'hex'), 'EU_863_870_TTN', '{\"placement\":\"indoor\"}' "
        f"FROM generate_series(1, {gateways}) g",
    )
    pg.psql(
        database,
        "INSERT INTO end_devices SELECT gen_random_uuid(), 'app-1', 'dev-' || d, "
        "decode(lpad(to_hex(d), 16, '0'), 'hex'), decode('70B3D57ED0000000', 'hex') "
        f"FROM generate_series(1, {devices}) d",
    )


async def populate_redis(url: str, devices: int, db: int = 0) -> int:
    """NS/AS/JS keys for `devices` devices; the number of keys written."""
    rng = random.Random(devices)  # noqa: S311 - test data, not secrets
    written = 0
    async with client(url, db) as r:
        pipe = r.pipeline(transaction=False)
        for d in range(1, devices + 1):
            uid = f"app-1.dev-{d}"
            pipe.set(f"ttn:v3:ns:devices:uid:{uid}", os.urandom(rng.randint(200, 900)))
            pipe.hset(f"ttn:v3:as:devices:uid:{uid}", mapping={"session": os.urandom(64)})
            pipe.set(f"ttn:v3:js:devices:uid:{uid}", os.urandom(120))
            pipe.zadd(f"ttn:v3:ns:devices:uplink:{uid}", {os.urandom(16): d})
            pipe.set(f"ttn:v3:ns:devices:lock:{uid}", b"1", px=3_600_000)  # expiring key
            written += 5
            if d % 1000 == 0:
                await pipe.execute()
        pipe.set("ttn:v3:gs:stats:gateways", b"\x08\x01")
        written += 1
        await pipe.execute()
    return written


def populate(pg: Postgres, database: str, redis_url: str, devices: int, gateways: int) -> int:
    """Both stores; the Redis key count."""
    populate_postgres(pg, database, devices, gateways)
    return anyio.run(populate_redis, redis_url, devices)
