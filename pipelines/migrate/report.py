"""What a migration moves and whether it all arrived: inventories, and their comparison."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Inventory:
    """Rows per table and keys per Redis database of one side, plus sizes."""

    tables: dict[str, int] = field(default_factory=dict)
    database_bytes: int = 0
    migrations: list[str] = field(default_factory=list)
    redis_keys: dict[int, int] = field(default_factory=dict)
    # Of those, the keys with a TTL: they may expire while the copy runs.
    redis_volatile: dict[int, int] = field(default_factory=dict)
    redis_bytes: int = 0

    def persistent(self, db: int) -> int:
        """Keys of `db` without a TTL: every one of them must arrive."""
        return self.redis_keys.get(db, 0) - self.redis_volatile.get(db, 0)

    def render(self, title: str) -> str:
        """The dry-run report: every table with its rows, every Redis database with its keys."""
        lines = [
            f"{title}:",
            f"  PostgreSQL: {len(self.tables)} tables, {sum(self.tables.values())} rows, "
            f"{self.database_bytes / 2**20:.1f} MiB, {len(self.migrations)} schema migrations"
            + (f" (newest {self.migrations[-1]})" if self.migrations else ""),
            *(f"    {table:<32} {rows:>10}" for table, rows in sorted(self.tables.items())),
            f"  Redis: {sum(self.redis_keys.values())} keys, {self.redis_bytes / 2**20:.1f} MiB",
            *(
                f"    db {db:<29} {keys:>10}  ({self.redis_volatile.get(db, 0)} with a TTL)"
                for db, keys in sorted(self.redis_keys.items())
            ),
        ]
        return "\n".join(lines)


def differences(source: Inventory, target: Inventory) -> list[str]:
    """Every table and Redis database whose count differs.

    Tables the target adds by its own newer migrations are not the source's and are not
    compared. Redis: every key without a TTL must arrive; keys with one may expire during
    the copy (TTS's locks and dedup entries live seconds), so the target may have fewer.
    """
    found = [
        f"table {table}: source {rows} rows, target {target.tables.get(table, 'no table')}"
        for table, rows in sorted(source.tables.items())
        if target.tables.get(table) != rows
    ]
    for db in sorted(source.redis_keys):
        if target.persistent(db) != source.persistent(db):
            found.append(
                f"Redis db {db}: source {source.persistent(db)} keys without a TTL, "
                f"target {target.persistent(db)}"
            )
        if target.redis_volatile.get(db, 0) > source.redis_volatile.get(db, 0):
            found.append(f"Redis db {db}: the target has more keys with a TTL than the source")
    return found


def verification(source: Inventory, target: Inventory) -> str:
    """The verification report; raises nothing, the caller decides on `differences`."""
    problems = differences(source, target)
    rows = sum(source.tables.values())
    kept = sum(source.persistent(db) for db in source.redis_keys)
    volatile = sum(source.redis_volatile.values())
    arrived = sum(target.redis_volatile.get(db, 0) for db in source.redis_keys)
    if not problems:
        return (
            f"verified: {len(source.tables)} tables with {rows} rows, and "
            f"{len(source.redis_keys)} Redis database(s) with {kept} keys, are the same on the "
            f"target; of {volatile} keys with a TTL {arrived} were still alive to arrive"
        )
    return "verification FAILED:\n" + "\n".join(f"  {p}" for p in problems)
