"""Backups in containers: fetch one (pipelines.backup's CLI), the restore drill into
throw-away stores, the guarded restore into live ones, and the uploader's image.

The drill and the restore are the migration's steps (migration.py's DaggerExecutor) with the
backup's files as the source; the drill's target is a throw-away PostgreSQL and Redis, and
the pinned release then starts on it for a health check.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import dagger
from dagger import ReturnType, dag

from pipelines import versions
from pipelines.backup import TOKEN_ENV, check_account_url, drill
from pipelines.backup.manifest import (
    REDIS_FILE,
    BackupError,
    Manifest,
    age,
    parse_id,
    parse_max_age,
)
from pipelines.migrate.run import Stores, create_database, load_dump

from . import migration
from .containers import fresh, python_env
from .tts_image import build_binaries

BACKUP_DIR: Final = "/backup"
_CONTAINER: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")


def account_url(storage_account: str) -> str:
    """The blob endpoint of a storage account in Azure's public cloud."""
    if not re.fullmatch(r"[a-z0-9]{3,24}", storage_account):
        raise ValueError(
            f"--storage-account {storage_account!r} is not a storage account name (3-24 "
            "lowercase letters and digits; Bicep output storageAccountName)"
        )
    return f"https://{storage_account}.blob.core.windows.net"


def check_container(account_url: str, container: str, flag: str, output: str) -> None:
    """A storage account's blob endpoint and a container name in it, before any work."""
    check_account_url(account_url)
    if not _CONTAINER.match(container):
        raise ValueError(
            f"{flag} {container!r} is not a blob container name (3-63 lowercase letters, "
            f"digits and dashes; Bicep output {output})"
        )


def check_location(account_url: str, container: str, backup: str, max_age: str = "") -> None:
    """The backup's address and bounds, before any work."""
    check_container(account_url, container, "--container", "backupContainerName")
    if backup:
        parse_id(backup)
    if max_age:
        parse_max_age(max_age)


def storage_client(
    repo: dagger.Directory, token: dagger.Secret, ca: dagger.File | None
) -> dagger.Container:
    """`python -m pipelines.backup` with the token; `ca` trusted besides the public roots."""
    ctr = python_env(repo, "--extra", "backup").with_secret_variable(TOKEN_ENV, token)
    if ca is None:
        return ctr
    bundle = "/etc/tts-ci/ca-bundle.pem"  # certifi's roots, then the given CA
    return (
        ctr.with_file("/etc/tts-ci/extra-ca.pem", ca)
        .with_exec(["sh", "-c", f"cat $(python -m certifi) /etc/tts-ci/extra-ca.pem > {bundle}"])
        .with_env_variable("REQUESTS_CA_BUNDLE", bundle)
    )


def backup_image(repo: dagger.Directory) -> dagger.Container:
    """`python -m pipelines.backup` as an image, non-root: the backup CronJob's uploader."""
    return (
        python_env(repo, "--extra", "backup")
        .with_user("65534:65534")
        .with_env_variable("HOME", "/tmp")  # noqa: S108 - the image's own, nothing shared
        .with_entrypoint(["python", "-m", "pipelines.backup"])
    )


async def fetched(
    repo: dagger.Directory, account_url: str, container: str, token: dagger.Secret,
    ca: dagger.File | None, backup: str, max_age: str = "",
) -> tuple[dagger.Directory, Manifest]:  # fmt: skip
    """Download a backup (default: the newest) and check every file; its files, manifest."""
    argv = ["python", "-m", "pipelines.backup", "fetch", "--account-url", account_url,
            "--container", container, "--to", BACKUP_DIR,
            *(["--backup", backup] if backup else []),
            *(["--max-age", max_age] if max_age else [])]  # fmt: skip
    ctr = storage_client(repo, token, ca).with_(fresh).with_exec(argv, expect=ReturnType.ANY)
    if await ctr.exit_code() != 0:
        raise BackupError(await _refusal(ctr, "fetching the backup"))
    text = await ctr.stdout()
    manifest = Manifest.from_json(text, json.loads(text)["id"])
    return ctr.directory(BACKUP_DIR), manifest


async def _refusal(ctr: dagger.Container, what: str) -> str:
    """The one line `python -m pipelines.backup` ended with (`backup: …`), without its prefix."""
    lines = (await ctr.stderr()).strip().splitlines()
    return lines[-1].removeprefix("backup: ") if lines else f"{what} failed without a message"


def redis_server() -> dagger.Service:
    """A throw-away redis-server that persists nothing: the drill's target."""
    return (
        dag.container()
        .from_(versions.REDIS_IMAGE)
        .with_exposed_port(6379)
        .as_service(
            args=["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"]
        )
    )


async def restore_drill(
    repo: dagger.Directory, version: str, tree: dagger.Directory | None, account_url: str,
    container: str, token: dagger.Secret, ca: dagger.File | None, backup: str, max_age: str,
) -> str:  # fmt: skip
    """Fetch, restore into throw-away stores, verify, start the release on them: the verdict."""
    check_location(account_url, container, backup, max_age)
    files, manifest = await fetched(repo, account_url, container, token, ca, backup, max_age)
    scratch_service, scratch = migration.scratch_server()
    ex = migration.DaggerExecutor(
        repo,
        await build_binaries(repo, version, tree),
        {"scratch": scratch_service, "backup-redis": migration.rdb_server(files.file(REDIS_FILE)),
         "restored-redis": redis_server()},
    )  # fmt: skip
    ex.work = ex.work.with_file("postgres.dump", files.file("postgres.dump"))
    backup_db = await load_dump(ex, "postgres.dump", scratch, "backup")
    restored = await create_database(ex, scratch, "restored", "the drill's target")
    target = Stores(restored, "redis://restored-redis:6379")
    lines: list[str] = []

    async def health(restored: Stores) -> str:
        return await _healthz(ex, restored)

    verdict = await drill.restore_drill(
        ex, Stores(backup_db, "redis://backup-redis:6379"), target, scratch, manifest,
        datetime.now(UTC), health, log=lines.append,
    )  # fmt: skip
    return "\n".join([*lines, verdict])


# GET /healthz every 2 s for 60 s; its body on the first answer (the standard library only).
_HEALTHZ_PROBE: Final = f"""
import sys, time, urllib.request
for _ in range(30):
    try:
        answer = urllib.request.urlopen("http://tts:{drill.HTTP_PORT}/healthz", timeout=5)
        print(answer.read().decode())
        sys.exit(0)
    except OSError as err:
        print(err, file=sys.stderr)
        time.sleep(2)
sys.exit(1)
"""


async def _healthz(ex: "migration.DaggerExecutor", restored: Stores) -> str:
    """The release's ttn-lw-stack as a service on the restored stores; GET /healthz."""
    env, secrets = drill.tts_env(restored)
    server = (
        dag.container()
        .from_(versions.POSTGRES_IMAGE)
        .with_file(migration.TTS_BINARY, ex.binaries.file("ttn-lw-stack"))
        .with_service_binding("scratch", ex.services["scratch"])
        .with_service_binding("restored-redis", ex.services["restored-redis"])
        .with_exposed_port(drill.HTTP_PORT)
        .with_workdir("/tmp")  # noqa: S108 - a throw-away container
    )
    for name, value in env.items():
        server = server.with_env_variable(name, value)
    for name, value in secrets.items():
        server = server.with_secret_variable(name, dag.set_secret(f"drill-{name.lower()}", value))
    service = server.as_service(args=[migration.TTS_BINARY, *drill.TTS_START])
    probe = (
        dag.container()
        .from_(versions.PYTHON_IMAGE)
        .with_service_binding("tts", service)
        .with_(fresh)
        .with_exec(["python", "-c", _HEALTHZ_PROBE], expect=ReturnType.ANY)
    )
    if await probe.exit_code() != 0:
        raise BackupError(
            "restore drill: the restored state was verified but ttn-lw-stack did not answer "
            f"/healthz on it within 60 s: {(await probe.stderr()).strip()[-300:]}"
        )
    return drill.healthy(await probe.stdout())


async def restore(
    repo: dagger.Directory, version: str, account_url: str, container: str,
    token: dagger.Secret, ca: dagger.File | None, backup: str, target_postgres: dagger.Secret,
    target_redis: dagger.Secret, pictures_container: str, *, dry_run: bool, replace: bool,
) -> str:  # fmt: skip
    """A backup into the live stores, through `migrate`'s guards: a dry run by default, a
    non-empty target refused without `replace`; the pictures last."""
    check_location(account_url, container, backup)
    if pictures_container:
        check_container(account_url, pictures_container, "--pictures-container",
                        "blobContainerName")  # fmt: skip
    files, manifest = await fetched(repo, account_url, container, token, ca, backup)
    old = age(manifest.taken, datetime.now(UTC))
    sources = migration.Sources(None, None, files.file("postgres.dump"), files.file(REDIS_FILE),
                                "", None, None)  # fmt: skip
    report = await migration.run(repo, version, target_postgres, target_redis, sources,
                                 dry_run=dry_run, replace=replace)  # fmt: skip
    lines = [f"backup {manifest.backup_id} ({old}), {len(manifest.pictures)} pictures", report]
    if pictures_container and manifest.pictures:
        pictures = Pictures(files.directory("pictures"), account_url, pictures_container, token, ca)
        lines.append(await pictures.put(repo, dry_run=dry_run, replace=replace))
    return "\n".join(lines)


# The local blob provider keeps each bucket in a directory of its own (TTS's default bucket
# names); in Azure the chart gives both buckets one container, so the files go to its root.
VM_BUCKETS: Final = ("profile_pictures", "end_device_pictures")


async def vm_pictures(blob_dir: dagger.Directory) -> dagger.Directory:
    """A VM's blob directory as the upload container holds it: each bucket's files at the
    root (the names TTS stored in the database, relative to the bucket)."""
    found = [entry.rstrip("/") for entry in await blob_dir.entries()]
    unknown = sorted(set(found) - set(VM_BUCKETS))
    if unknown:
        raise ValueError(
            f"--blob-dir holds {', '.join(unknown)}: a TTS blob directory holds the buckets "
            f"{' and '.join(VM_BUCKETS)} (pass the directory TTN_LW_BLOB_LOCAL_DIRECTORY names)"
        )
    merged = dag.directory()
    for bucket in VM_BUCKETS:
        if bucket in found:
            merged = merged.with_directory(".", blob_dir.directory(bucket))
    return merged


@dataclass(frozen=True)
class Pictures:
    """Pictures (a VM's blob directory, a backup's pictures/) for the upload container."""

    directory: dagger.Directory
    account_url: str
    container: str
    token: dagger.Secret
    ca: dagger.File | None = None

    async def put(self, repo: dagger.Directory, *, dry_run: bool, replace: bool) -> str:
        """Upload and verify them (count, and the MD5 the service computed); a dry run counts."""
        if dry_run:
            count = sum(not p.endswith("/") for p in await self.directory.glob("**/*"))
            return f"pictures: {count} files would go into {self.container!r} (dry run)"
        argv = ["python", "-m", "pipelines.backup", "put-pictures", "--account-url",
                self.account_url, "--container", self.container, "--from", "/pictures",
                *(["--replace"] if replace else [])]  # fmt: skip
        ctr = (
            storage_client(repo, self.token, self.ca)
            .with_directory("/pictures", self.directory)
            .with_(fresh)
            .with_exec(argv, expect=ReturnType.ANY)
        )
        if await ctr.exit_code() != 0:
            raise BackupError(await _refusal(ctr, "uploading the pictures"))
        return (await ctr.stdout()).strip().splitlines()[-1]
