"""The migration, once: the order of the steps and every decision, for any executor.

A Step names its tool (`postgres`: pg_dump/pg_restore/psql of PostgreSQL 16; `python`: this
package's CLI, `python -m pipelines.migrate`; `tts`: `ttn-lw-stack` of the target image),
its argv and its environment. The Dagger function runs each tool in its pinned container;
the test suite runs the very same steps with the host's binaries. Secrets (passwords, Redis
URLs) only travel in the environment, marked so an executor can pass them as secrets.

Order: inventory the source → (dry run: report and stop) → refuse a non-empty target
unless --replace → refuse a source written by a newer Things Stack → pg_dump/pg_restore →
copy each Redis database → `is-db migrate` of the target version → inventory the target
and compare, failing loudly on any difference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from pipelines.migrate import postgres
from pipelines.migrate.errors import MigrationError
from pipelines.migrate.report import Inventory, differences, verification

Tool = Literal["postgres", "python", "tts"]
# The dump file between pg_dump and pg_restore, in the executor's work directory.
DUMP = "source.dump"
SOURCE_REDIS_ENV = "MIGRATE_SOURCE_REDIS_URL"
TARGET_REDIS_ENV = "MIGRATE_TARGET_REDIS_URL"


@dataclass(frozen=True)
class Step:
    """One command of the migration."""

    tool: Tool
    argv: list[str]
    what: str
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)


class Executor(Protocol):
    """Runs steps; a non-zero exit raises MigrationError with the step's output."""

    async def run(self, step: Step) -> str:
        """The step's stdout."""
        ...


@dataclass(frozen=True)
class Migrated:
    """What a migration did: its report, and the target's inventory after it (None: a dry
    run, which leaves the target as it was)."""

    report: str
    target: Inventory | None


@dataclass(frozen=True)
class Stores:
    """One side: its Identity Server database and its Redis (a URL, may hold a password)."""

    database: postgres.Database
    redis_url: str = field(repr=False)


def _libpq(db: postgres.Database) -> tuple[dict[str, str], dict[str, str]]:
    env = postgres.libpq_env(db)
    password = env.pop("PGPASSWORD", "")
    return env, ({"PGPASSWORD": password} if password else {})


def _sql(db: postgres.Database, sql: str, what: str) -> Step:
    env, secrets = _libpq(db)
    return Step("postgres", postgres.psql_argv(sql), what, env, secrets)


async def inventory(ex: Executor, side: Stores, name: str, *, schema: bool = True) -> Inventory:
    """Rows per table, size, schema migrations and Redis keys of one side."""
    db = side.database
    tables = postgres.parse_table_counts(
        await ex.run(_sql(db, postgres.TABLE_COUNTS_SQL, f"{name}: rows per table"))
    )
    size = int(await ex.run(_sql(db, postgres.SIZE_SQL, f"{name}: database size")) or 0)
    migrations: list[str] = []
    if schema and postgres.MIGRATIONS_TABLE in tables:
        out = await ex.run(_sql(db, postgres.MIGRATIONS_SQL, f"{name}: schema migrations"))
        migrations = out.split()
    env_name = SOURCE_REDIS_ENV if name == "source" else TARGET_REDIS_ENV
    redis = json.loads(
        await ex.run(
            Step(
                "python",
                ["redis-inventory", "--url-env", env_name],
                f"{name}: Redis keys",
                secrets={env_name: side.redis_url},
            )
        )
    )
    return Inventory(
        tables=tables,
        database_bytes=size,
        migrations=migrations,
        redis_keys={int(db_): n for db_, n in redis["keys"].items()},
        redis_volatile={int(db_): n for db_, n in redis["volatile"].items()},
        redis_bytes=redis["bytes"],
    )


async def create_database(
    ex: Executor, server: postgres.Database, name: str, what: str
) -> postgres.Database:
    """A new, empty database `name` on the throw-away `server`, for `what`."""
    await ex.run(Step("postgres", postgres.psql_argv(f'CREATE DATABASE "{name}"'), what,
                      secrets=postgres.libpq_env(server)))  # fmt: skip
    return replace(server, name=name)


async def load_dump(
    ex: Executor, dump: str, server: postgres.Database, name: str
) -> postgres.Database:
    """A pg_dump file (`dump`, in the executor's work directory) restored into a new database
    `name` on a throw-away `server`: a source that can be counted and copied like a live one."""
    db = await create_database(ex, server, name, f"a database for {dump}")
    await ex.run(Step("postgres", postgres.restore_argv(dump, replace=False),
                      f"restore {dump} to count it", secrets=postgres.libpq_env(db)))  # fmt: skip
    return db


async def known_migrations(ex: Executor, scratch: postgres.Database) -> set[str]:
    """The schema migrations the target image knows: `is-db migrate` of an empty database."""
    env, secrets = _libpq(scratch)
    env["TTN_LW_IS_DATABASE_URI"] = postgres.tts_database_uri(scratch)
    await ex.run(
        Step("tts", ["is-db", "migrate"], "target image: its schema migrations", env, secrets)
    )
    return set((await ex.run(_sql(scratch, postgres.MIGRATIONS_SQL, "known migrations"))).split())


async def migrate(
    ex: Executor,
    source: Stores,
    target: Stores,
    scratch: postgres.Database,
    *,
    dry_run: bool,
    replace: bool,
    log: Callable[[str], None] = print,
) -> Migrated:
    """Move the source's state to the target; the verification report (or the dry-run one)
    and the target's inventory."""
    before = await inventory(ex, source, "source")
    log(before.render("source"))
    current = await inventory(ex, target, "target", schema=False)
    full = bool(current.tables) or bool(current.redis_keys)
    if dry_run:
        state = "empty" if not full else "NOT empty (a real run needs --replace)"
        log(current.render(f"target, {state}"))
        return Migrated("dry run: nothing was changed", None)
    if full and not replace:
        listed = f"{len(current.tables)} tables, {sum(current.redis_keys.values())} Redis keys"
        raise MigrationError(
            f"the target is not empty ({listed}): pass --replace to overwrite it with the "
            "source (also how an interrupted run is finished)"
        )
    newer = postgres.newer_migrations(set(before.migrations), await known_migrations(ex, scratch))
    if newer:
        raise MigrationError(
            f"the source was migrated by a newer Things Stack than the target image: it has "
            f"{len(newer)} schema migration(s) the image does not know ({', '.join(newer[:5])}): "
            "deploy that version or a newer one, then migrate"
        )
    src_env, src_secrets = _libpq(source.database)
    await ex.run(Step("postgres", postgres.dump_argv(DUMP), "pg_dump source", src_env, src_secrets))
    dst_env, dst_secrets = _libpq(target.database)
    restore = postgres.restore_argv(DUMP, replace=replace)
    await ex.run(Step("postgres", restore, "pg_restore into target", dst_env, dst_secrets))
    log(f"PostgreSQL: {sum(before.tables.values())} rows restored")
    secrets = {SOURCE_REDIS_ENV: source.redis_url, TARGET_REDIS_ENV: target.redis_url}
    for db in sorted(before.redis_keys):
        argv = ["redis-copy", "--source-env", SOURCE_REDIS_ENV, "--target-env", TARGET_REDIS_ENV,
                "--db", str(db), *(["--replace"] if replace else [])]  # fmt: skip
        log(await ex.run(Step("python", argv, f"Redis db {db}", secrets=secrets)))
    tts_env = {**dst_env, "TTN_LW_IS_DATABASE_URI": postgres.tts_database_uri(target.database)}
    await ex.run(
        Step("tts", ["is-db", "migrate"], "is-db migrate (target version)", tts_env, dst_secrets)
    )
    after = await inventory(ex, target, "target")
    report = verification(before, after)
    if differences(before, after):
        raise MigrationError(report)
    return Migrated(report, after)
