"""`python -m pipelines.migrate`: the Redis half of a migration, as the steps of run.py call it.

    redis-inventory --url-env VAR     {"keys": {db: n}, "volatile": {db: n}, "bytes": n} (JSON)
    redis-copy --source-env VAR --target-env VAR --db N [--replace]
    tunnel --ssh-host USER@HOST[:PORT] --key-file F --known-hosts F --forward L:HOST:R ...

URLs (redis:// or rediss://, with the password) are read from the environment variables
named, never from argv. Exit 0 done, 1 a problem the message explains, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import anyio

from pipelines.migrate import redis, tunnel
from pipelines.migrate.errors import MigrationError


def _url(parser: argparse.ArgumentParser, variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value.startswith(("redis://", "rediss://")):
        parser.error(f"${variable} holds no redis:// or rediss:// URL: set it to the Redis URL")
    return value


async def _inventory(url: str) -> str:
    found = await redis.keyspace(url)
    keys = {db: k.total for db, k in found.items()}
    volatile = {db: k.volatile for db, k in found.items()}
    return json.dumps({"keys": keys, "volatile": volatile, "bytes": await redis.used_memory(url)})


async def _copy(source: str, target: str, db: int, replace: bool) -> str:
    if not replace:
        await redis.check_empty(target, [db])
    done = await redis.copy_database(source, target, db, replace=replace)
    rate = done.keys / done.seconds if done.seconds else 0.0
    gone = f", {done.skipped} gone meanwhile" if done.skipped else ""
    return (
        f"Redis db {db}: {done.keys} keys copied in {done.seconds:.2f} s ({rate:.0f} keys/s{gone})"
    )


def main(argv: list[str] | None = None) -> int:
    """Parse, run, report; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.migrate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    inv = sub.add_parser("redis-inventory", help="keys per database and memory, as JSON")
    inv.add_argument("--url-env", required=True, help="variable holding the Redis URL")
    cp = sub.add_parser("redis-copy", help="copy one database (DUMP/RESTORE with TTLs)")
    cp.add_argument("--source-env", required=True, help="variable holding the source URL")
    cp.add_argument("--target-env", required=True, help="variable holding the target URL")
    cp.add_argument("--db", type=int, required=True, help="database number")
    cp.add_argument("--replace", action="store_true", help="overwrite keys the target has")
    tn = sub.add_parser("tunnel", help="forward local ports to a VM's through SSH; READY once up")
    tn.add_argument("--ssh-host", required=True, type=tunnel.parse_target, help="user@host[:port]")
    tn.add_argument("--key-file", required=True, type=Path, help="private key (OpenSSH format)")
    tn.add_argument("--known-hosts", required=True, type=Path, help="the VM's host key line(s)")
    tn.add_argument("--forward", required=True, action="append", type=tunnel.parse_forward,
                    help="LOCAL_PORT:REMOTE_HOST:REMOTE_PORT, repeatable")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.command == "tunnel":
            anyio.run(lambda: tunnel.serve(
                args.ssh_host, args.key_file, args.known_hosts, args.forward,
                on_ready=lambda: print("READY", flush=True),
            ))  # fmt: skip
        elif args.command == "redis-inventory":
            print(anyio.run(_inventory, _url(parser, args.url_env)))
        else:
            source, target = _url(parser, args.source_env), _url(parser, args.target_env)
            print(anyio.run(_copy, source, target, args.db, args.replace))
    except MigrationError as err:
        print(f"migrate: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
