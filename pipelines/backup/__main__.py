"""`python -m pipelines.backup`: the backup container's side of backups and restores.

    upload --account-url URL --container C --from DIR [--pictures-container P] [--id ID]
           [--keep-days N]
           [--managed-redis-database-id ID]
        upload DIR's files (postgres.dump, redis.rdb), Managed Redis's export and the upload
        container's pictures as one backup, the manifest last; then delete backups older
        than N days (never the newest). Prints the backup's id.
    list --account-url URL --container C          the backups, newest last
    fetch --account-url URL --container C [--backup ID] --to DIR [--max-age 26h]
        download a backup (default: the newest complete one), check every file's size and
        SHA-256; with --max-age refuse one older than that. Prints its manifest (JSON).
    put-pictures --account-url URL --container P --from DIR [--replace]
        upload pictures (a VM's blob directory, or a backup's pictures/) and verify them

Credentials: AZURE_STORAGE_ACCESS_TOKEN if set, else the pod's workload identity.
Exit 0 done, 1 a problem the message explains, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.backup import store
from pipelines.backup.drill import check_age
from pipelines.backup.manifest import BackupError, new_id, parse_id, parse_max_age, redis_rdb


def _upload(args: argparse.Namespace) -> str:
    backup_id = args.id or new_id(datetime.now(UTC))
    if args.pictures_container:
        pictures = store.container(args.account_url, args.pictures_container)
        store.download_pictures(pictures, args.source / "pictures", log=print)
    cc = store.container(args.account_url, args.container)
    exported = []
    if args.managed_redis_database_id:  # Managed Redis writes its export into the container
        from pipelines.backup import managed_redis  # noqa: PLC0415 - its SDK only when needed

        exported = managed_redis.export(
            store.credential(), args.managed_redis_database_id, cc, backup_id, log=print
        )
    store.upload_backup(cc, args.source, backup_id, log=print, written=exported)
    if args.keep_days:
        store.prune(cc, datetime.now(UTC), timedelta(days=args.keep_days), log=print)
    return backup_id


def _list(args: argparse.Namespace) -> str:
    found = store.list_backups(store.container(args.account_url, args.container))
    now = datetime.now(UTC)
    return "\n".join(
        f"{backup_id}  {'complete' if whole else 'INCOMPLETE (no manifest)'}" for
        backup_id, whole in found.items()
    ) or f"no backups in {args.container!r} yet (as of {now:%Y-%m-%dT%H:%MZ})"  # fmt: skip


def _fetch(args: argparse.Namespace) -> str:
    cc = store.container(args.account_url, args.container)
    backup_id = args.backup or store.newest(cc)
    if args.max_age is not None:
        check_age(backup_id, datetime.now(UTC), args.max_age)
    manifest = store.fetch(cc, backup_id, args.to)
    redis_rdb(manifest, args.to)  # always a redis.rdb to restore, however it was taken
    return manifest.to_json()


def _put_pictures(args: argparse.Namespace) -> str:
    cc = store.container(args.account_url, args.container)
    return store.put_pictures(cc, args.source, replace=args.replace, log=print)


def main(argv: list[str] | None = None) -> int:
    """Parse, run, report; the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.backup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {
        "upload": (_upload, "upload one backup"),
        "list": (_list, "list the backups"),
        "fetch": (_fetch, "download and check one backup"),
        "put-pictures": (_put_pictures, "upload and verify pictures"),
    }
    for name, (run, what) in commands.items():
        cmd = sub.add_parser(name, help=what)
        cmd.set_defaults(run=run)
        cmd.add_argument("--account-url", required=True,
                         help="blob endpoint, https://ACCOUNT.blob.core.windows.net")  # fmt: skip
        cmd.add_argument("--container", required=True, help="blob container")
        if name in ("upload", "put-pictures"):
            cmd.add_argument("--from", dest="source", type=Path, required=True,
                             help="directory of the files to upload")  # fmt: skip
    upload = sub.choices["upload"]
    upload.add_argument("--pictures-container", help="also back up this container's pictures")
    upload.add_argument("--managed-redis-database-id",
                        help="Azure Managed Redis database to export into the backup")  # fmt: skip
    upload.add_argument("--id", type=_backup_id, help="backup id (default: now, UTC)")
    upload.add_argument(
        "--keep-days", type=int, default=0, help="then delete backups older than N days"
    )
    fetch = sub.choices["fetch"]
    fetch.add_argument("--backup", type=_backup_id, help="backup id (default: the newest)")
    fetch.add_argument("--to", type=Path, default=Path(tempfile.gettempdir()) / "backup",
                       help="directory to download into")  # fmt: skip
    fetch.add_argument("--max-age", type=_max_age, help="refuse a backup older than this (26h)")
    sub.choices["put-pictures"].add_argument(
        "--replace", action="store_true", help="overwrite pictures the container already has"
    )
    args = parser.parse_args(argv)
    try:
        print(args.run(args))
    except BackupError as err:
        print(f"backup: {err}", file=sys.stderr)
        return 1
    return 0


def _backup_id(text: str) -> str:
    try:
        parse_id(text)
    except BackupError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _max_age(text: str) -> timedelta:
    try:
        return parse_max_age(text)
    except BackupError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


if __name__ == "__main__":
    sys.exit(main())
