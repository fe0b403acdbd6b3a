"""The Identity Server database's move as data: pg_dump, pg_restore and the SQL that checks it.

Every command connects through libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE,
PGPASSWORD, PGSSLMODE: `libpq_env`), so no password ever stands in an argv or a log line.

- Owners and roles are mapped by not carrying them: `--no-owner --no-privileges` on both
  sides, so every restored object belongs to whoever restores it (on Azure the server's
  admin login, not the VM's `root`/`ttsadmin`).
- The version check reads `bun_migrations` (the table `ttn-lw-stack is-db migrate` keeps):
  a source with a migration the target image does not know was written by a newer
  Things Stack, and restoring it under an older one is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

# Exact row counts of every table in `public`, one query (no PL/pgSQL needed).
TABLE_COUNTS_SQL: Final = (
    "SELECT table_name, (xpath('/row/c/text()', query_to_xml(format("
    "'SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]"
    "::text::bigint FROM information_schema.tables "
    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
)
TABLES_SQL: Final = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
SIZE_SQL: Final = "SELECT pg_database_size(current_database())"
MIGRATIONS_TABLE: Final = "bun_migrations"
MIGRATIONS_SQL: Final = f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name"  # noqa: S608 - a constant
DEFAULT_PORT: Final = 5432


@dataclass(frozen=True)
class Database:
    """A PostgreSQL database as libpq reaches it; the password stays out of repr."""

    host: str
    port: int
    user: str
    name: str
    sslmode: str
    password: str = ""

    def __repr__(self) -> str:
        return f"Database({self.user}@{self.host}:{self.port}/{self.name}, sslmode={self.sslmode})"


def parse_uri(uri: str) -> Database:
    """`postgresql://user[:password]@host[:port]/database[?sslmode=…]` (as TTS's own URI)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname or not parts.username:
        raise ValueError(
            "a PostgreSQL URI is postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]; "
            "the one given is not (its text is not repeated: it may hold a password)"
        )
    name = parts.path.lstrip("/")
    if not name:
        raise ValueError("the PostgreSQL URI names no database: add /DATABASE (e.g. /ttn_lorawan)")
    sslmode = parse_qs(parts.query).get("sslmode", ["prefer"])[0]
    return Database(
        host=parts.hostname,
        port=parts.port or DEFAULT_PORT,
        user=unquote(parts.username),
        name=unquote(name),
        sslmode=sslmode,
        password=unquote(parts.password or ""),
    )


def libpq_env(db: Database) -> dict[str, str]:
    """The environment every libpq tool (pg_dump, pg_restore, psql) and TTS reads."""
    env = {
        "PGHOST": db.host,
        "PGPORT": str(db.port),
        "PGUSER": db.user,
        "PGDATABASE": db.name,
        "PGSSLMODE": db.sslmode,
    }
    if db.password:
        env["PGPASSWORD"] = db.password
    return env


def tts_database_uri(db: Database) -> str:
    """TTN_LW_IS_DATABASE_URI without the password (TTS's pgx reads PGPASSWORD)."""
    return f"postgresql://{db.user}@{db.host}:{db.port}/{db.name}?sslmode={db.sslmode}"


def dump_argv(path: str) -> list[str]:
    """pg_dump of the whole database in custom format (compressed, restorable per object)."""
    return ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", path]


def restore_argv(path: str, *, replace: bool) -> list[str]:
    """pg_restore into PGDATABASE, in one transaction: a failure leaves the target as it was.

    `replace`: drop what the dump brings first (`--clean --if-exists`).
    """
    clean = ["--clean", "--if-exists"] if replace else []
    return [
        "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
        # An empty --dbname connects with the environment's PGDATABASE (libpq defaults).
        "--single-transaction", *clean, "--dbname", "", path,
    ]  # fmt: skip


def psql_argv(sql: str) -> list[str]:
    """One statement through psql, unaligned and tuples-only (`a|b` lines)."""
    return ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql]


def parse_table_counts(output: str) -> dict[str, int]:
    """TABLE_COUNTS_SQL's output as {table: rows}."""
    counts = {}
    for line in output.splitlines():
        if line.strip():
            table, _, rows = line.partition("|")
            counts[table] = int(rows)
    return counts


def newer_migrations(source: set[str], known: set[str]) -> list[str]:
    """Migrations the source has that the target image does not know (sorted)."""
    return sorted(source - known)
