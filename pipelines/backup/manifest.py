"""What one backup holds: its id (the UTC time it was taken), and every file with its size
and SHA-256. The manifest is uploaded last: a backup without one was interrupted and is
never restored.

Layout in the backup container:

    20261205T020000Z/postgres.dump      pg_dump --format=custom of the Identity Server database
    20261205T020000Z/redis.rdb          the RDB snapshot of Redis (every database), or
    20261205T020000Z/redis-export/…     Azure Managed Redis's export (a gzipped RDB)
    20261205T020000Z/pictures/<name>    the upload container's blobs (profile and device pictures)
    20261205T020000Z/manifest.json      this module's Manifest, written last
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

ID_FORMAT: Final = "%Y%m%dT%H%M%SZ"
MANIFEST: Final = "manifest.json"
POSTGRES_FILE: Final = "postgres.dump"
REDIS_FILE: Final = "redis.rdb"
PICTURES: Final = "pictures/"
REDIS_EXPORT: Final = "redis-export"  # Azure Managed Redis's export (managed_redis.py)
FORMAT: Final = 1
_CHUNK: Final = 4 * 2**20


class BackupError(Exception):
    """A problem the user can fix; the message names it and the fix (never a token)."""


def new_id(now: datetime) -> str:
    """The id of a backup taken at `now` (UTC, to the second): it sorts by time."""
    return now.astimezone(UTC).strftime(ID_FORMAT)


def parse_id(text: str) -> datetime:
    """When the backup `text` was taken; BackupError for anything that is not an id."""
    try:
        return datetime.strptime(text, ID_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise BackupError(
            f"{text!r} is not a backup id: ids are the UTC time of the backup, "
            "e.g. 20261205T020000Z (`python -m pipelines.backup list` shows them)"
        ) from None


def sha256_of(path: Path) -> str:
    """The file's SHA-256, hex, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One file of a backup, by its name below the backup's id."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """A whole backup: its id and its files."""

    backup_id: str
    files: tuple[Entry, ...]

    @property
    def taken(self) -> datetime:
        return parse_id(self.backup_id)

    @property
    def pictures(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.files if e.name.startswith(PICTURES))

    def has(self, name: str) -> bool:
        return any(e.name == name for e in self.files)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "id": self.backup_id,
                "files": [{"name": e.name, "size": e.size, "sha256": e.sha256} for e in self.files],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str, backup_id: str) -> Manifest:
        """Parse and check a manifest read from backup `backup_id`."""
        try:
            data = json.loads(text)
            files = tuple(Entry(str(f["name"]), int(f["size"]), str(f["sha256"]))
                          for f in data["files"])  # fmt: skip
            found_id, version = str(data["id"]), int(data["format"])
        except (ValueError, KeyError, TypeError):
            raise BackupError(
                f"backup {backup_id}: its {MANIFEST} is not a backup manifest: the backup "
                "cannot be trusted; restore another one"
            ) from None
        if version != FORMAT or found_id != backup_id:
            raise BackupError(
                f"backup {backup_id}: its {MANIFEST} is format {version} of backup {found_id}, "
                f"this tool reads format {FORMAT} of {backup_id}"
            )
        return cls(backup_id, files)


def manifest_of(backup_id: str, directory: Path) -> Manifest:
    """The manifest of every file below `directory` (names relative to it, `/`-separated)."""
    parse_id(backup_id)
    files = tuple(
        Entry(path.relative_to(directory).as_posix(), path.stat().st_size, sha256_of(path))
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    )
    return Manifest(backup_id, files)


def redis_rdb(manifest: Manifest, directory: Path) -> Path:
    """The backup's RDB in `directory` (fetched): redis.rdb, or Azure Managed Redis's export
    (one .gz file under redis-export/) unpacked into redis.rdb."""
    rdb = directory / REDIS_FILE
    if manifest.has(REDIS_FILE):
        return rdb
    exported = [e for e in manifest.files if e.name.startswith(f"{REDIS_EXPORT}/")]
    if len(exported) != 1:
        raise BackupError(
            f"backup {manifest.backup_id} has {len(exported) or 'no'} Redis export file(s) "
            f"and no {REDIS_FILE}: a restore needs one RDB (a one-shard Managed Redis export)"
        )
    with (directory / exported[0].name).open("rb") as f:
        packed = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if packed else Path.open
    with opener(directory / exported[0].name, "rb") as src, rdb.open("wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
    return rdb


def age(taken: datetime, now: datetime) -> str:
    """`6 h old`, `3 min old`, `2 d 4 h old`: how a person reads a backup's age."""
    seconds = max(int((now - taken).total_seconds()), 0)
    if seconds < 3600:  # noqa: PLR2004
        return f"{seconds // 60} min old"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h old"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h old"


def parse_max_age(text: str) -> timedelta:
    """`26h`, `90m`, `2d`: the oldest backup a drill accepts."""
    units = {"m": 60, "h": 3600, "d": 86400}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise BackupError(
            f"--max-age {text!r} is not a duration: give minutes, hours or days, e.g. 26h"
        )
    return timedelta(seconds=int(number) * units[unit])
