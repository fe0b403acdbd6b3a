"""The backup container in Azure Storage, through azure-storage-blob (Azurite in the tests).

Authentication is Entra ID only (the storage account refuses shared keys): in a pod the
workload identity (DefaultAzureCredential reads AZURE_CLIENT_ID and the federated token the
webhook mounts); from a pipeline, an access token it already holds, handed over in
AZURE_STORAGE_ACCESS_TOKEN. Every SDK error becomes one BackupError line that names the
account, the container and the fix.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.storage.blob import ContainerClient

from pipelines.backup import TOKEN_ENV, check_account_url
from pipelines.backup.manifest import (
    MANIFEST,
    BackupError,
    Entry,
    Manifest,
    manifest_of,
    parse_id,
    sha256_of,
)

# The Blob REST version spoken: the newest the pinned Azurite (tools/azurite) implements, so
# what the tests prove is what runs against Azure (which serves older versions for years).
API_VERSION: Final = "2026-06-06"
Log = Callable[[str], None]


class _GivenToken(TokenCredential):
    """A storage access token obtained elsewhere (the pipeline's own Azure login)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 300)


def credential() -> TokenCredential:
    """The token in AZURE_STORAGE_ACCESS_TOKEN, else the pod's workload identity."""
    if token := os.environ.get(TOKEN_ENV, "").strip():
        return _GivenToken(token)
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - only without a token

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def container(
    account_url: str, name: str, cred: TokenCredential | None = None, **options: Any
) -> ContainerClient:
    """The container `name` of the account at `account_url` (https://ACCOUNT.blob.core.windows.net)."""
    check_account_url(account_url)
    return ContainerClient(
        account_url, name, credential=cred or credential(), api_version=API_VERSION, **options
    )


@contextmanager
def storage_errors(cc: ContainerClient, what: str) -> Iterator[None]:
    """SDK errors as one BackupError line naming `what`, the account and the container."""
    where = f"container {cc.container_name!r} of {cc.url.rsplit('/', 1)[0]}"
    try:
        yield
    except ClientAuthenticationError as err:
        raise BackupError(
            f"{what}: the storage account refused the credential ({_code(err)}): the token "
            "has expired or is not for https://storage.azure.com; sign in again, or check the "
            "workload identity's federated credential"
        ) from None
    except ResourceNotFoundError as err:
        if _error_code(err) == "ContainerNotFound":
            raise BackupError(
                f"{what}: {where} does not exist: check --container (Bicep output "
                "backupContainerName) and --account-url"
            ) from None
        raise
    except HttpResponseError as err:
        if err.status_code == 403:  # noqa: PLR2004
            raise BackupError(
                f"{what}: {where} refused the request ({_code(err)}): the identity needs "
                "Storage Blob Data Contributor on the account (the Bicep assigns it to TTS's "
                "workload identity)"
            ) from None
        raise BackupError(f"{what}: {where} answered {err.status_code} ({_code(err)})") from None
    except ServiceRequestError as err:
        raise BackupError(f"{what}: cannot reach {where} ({str(err)[:120]})") from None


def _error_code(err: HttpResponseError) -> str:
    """The service's error code (ContainerNotFound, AuthenticationFailed, ...)."""
    code = getattr(err, "error_code", None)  # set by the storage SDK's error handler
    return str(getattr(code, "value", code) or err.reason or err.status_code)


def _code(err: HttpResponseError) -> str:
    """The error code and its detail: Azure Storage's AuthenticationErrorDetail (why a token
    was refused), else the first line of the message (no request ids)."""
    info = getattr(err, "additional_info", None) or {}
    detail = info.get("authenticationerrordetail") or (err.message or "").partition("\n")[0]
    code = _error_code(err)
    return f"{code}: {detail}" if detail and detail != code else code


def list_backups(cc: ContainerClient) -> dict[str, bool]:
    """{backup id: complete (its manifest is there)} of every backup in the container."""
    found: dict[str, bool] = {}
    with storage_errors(cc, "listing backups"):
        for blob in cc.list_blobs():
            backup_id, _, rest = blob.name.partition("/")
            found[backup_id] = found.get(backup_id, False) or rest == MANIFEST
    return dict(sorted(found.items()))


def newest(cc: ContainerClient) -> str:
    """The id of the newest complete backup."""
    complete = [backup_id for backup_id, whole in list_backups(cc).items() if whole]
    if not complete:
        raise BackupError(
            f"container {cc.container_name!r} holds no complete backup: check that the backup "
            "CronJob runs (kubectl -n tts get cronjob tts-thethingsstack-backup) and its last "
            "job's log"
        )
    return complete[-1]


def prune(cc: ContainerClient, now: datetime, keep: timedelta, log: Log = print) -> int:
    """Delete the backups taken more than `keep` before `now`, never the newest complete one;
    how many. The storage account's lifecycle rule does the same, except in a WORM container
    (Azure's lifecycle deletion skips immutable containers): there this is what prunes, once
    each blob's retention has passed."""
    found = list_backups(cc)
    newest_complete = max((b for b, whole in found.items() if whole), default="")
    old = [b for b in found if b != newest_complete and now - parse_id(b) > keep]
    for backup_id in old:
        try:
            with storage_errors(cc, f"pruning backup {backup_id}"):
                for blob in cc.list_blobs(name_starts_with=f"{backup_id}/"):
                    cc.delete_blob(blob.name)
        except BackupError as err:  # e.g. still under WORM retention: the next run retries
            log(f"prune: {err}")
            return old.index(backup_id)
    if old:
        log(f"prune: {len(old)} backup(s) older than {keep.days} days deleted ({old[0]} first)")
    return len(old)


def download_pictures(pictures: ContainerClient, to: Path, log: Log) -> int:
    """Every blob of the upload container into `to` (same names); how many."""
    count = 0
    with storage_errors(pictures, "reading the pictures"):
        for blob in pictures.list_blobs():
            path = to / blob.name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as f:
                pictures.download_blob(blob.name).readinto(f)
            count += 1
    log(f"pictures: {count} read from {pictures.container_name!r}")
    return count


def upload_backup(
    cc: ContainerClient,
    directory: Path,
    backup_id: str,
    log: Log = print,
    written: Sequence[Entry] = (),
) -> Manifest:
    """Upload every file below `directory` as backup `backup_id`, the manifest last;
    `written`: files of the backup already in the container (Managed Redis's export)."""
    local = manifest_of(backup_id, directory)
    manifest = Manifest(backup_id, (*local.files, *written))
    if not manifest.files:
        raise BackupError(f"{directory} holds no files: nothing to back up")
    with storage_errors(cc, f"uploading backup {backup_id}"):
        for entry in local.files:
            with (directory / entry.name).open("rb") as f:
                cc.upload_blob(f"{backup_id}/{entry.name}", f, overwrite=False)
        cc.upload_blob(f"{backup_id}/{MANIFEST}", manifest.to_json().encode(), overwrite=False)
    total = sum(e.size for e in manifest.files)
    log(f"backup {backup_id}: {len(manifest.files)} files, {total / 2**20:.1f} MiB uploaded")
    return manifest


def fetch(cc: ContainerClient, backup_id: str, to: Path) -> Manifest:
    """Download backup `backup_id` into `to` and check every file against its manifest."""
    parse_id(backup_id)
    with storage_errors(cc, f"reading backup {backup_id}"):
        try:
            text = cc.download_blob(f"{backup_id}/{MANIFEST}").readall()
        except ResourceNotFoundError as err:
            if _error_code(err) == "ContainerNotFound":
                raise
            raise BackupError(
                f"backup {backup_id} has no {MANIFEST}: it does not exist or was interrupted; "
                "`python -m pipelines.backup list` shows the complete ones"
            ) from None
        manifest = Manifest.from_json(text.decode(errors="replace"), backup_id)
        for entry in manifest.files:
            path = to / entry.name
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with path.open("wb") as f:
                    cc.download_blob(f"{backup_id}/{entry.name}").readinto(f)
            except ResourceNotFoundError:
                raise BackupError(
                    f"backup {backup_id}: {entry.name} is missing although its manifest lists "
                    "it: the backup cannot be restored; use another one"
                ) from None
    for entry in manifest.files:
        _check(to / entry.name, entry.size, entry.sha256, f"backup {backup_id}: {entry.name}")
    return manifest


def _check(path: Path, size: int, sha256: str, what: str) -> None:
    found = path.stat().st_size
    if found != size:
        raise BackupError(
            f"{what} is {found} bytes, its manifest says {size}: the copy is truncated or "
            "was changed; restore another backup"
        )
    if sha256_of(path) != sha256:
        raise BackupError(
            f"{what} does not match its manifest's SHA-256: the copy is corrupt; restore "
            "another backup"
        )


def _md5(path: Path) -> bytes:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).digest()


def put_pictures(cc: ContainerClient, directory: Path, *, replace: bool, log: Log = print) -> str:
    """Upload the pictures below `directory` into the upload container, then verify them by
    count and by the MD5 the storage service computed on each upload."""
    files = {p.relative_to(directory).as_posix(): p for p in sorted(directory.rglob("*"))
             if p.is_file()}  # fmt: skip
    with storage_errors(cc, "uploading pictures"):
        for n, (name, path) in enumerate(files.items(), 1):
            try:
                with path.open("rb") as f:
                    cc.upload_blob(name, f, overwrite=replace)
            except ResourceExistsError:
                raise BackupError(
                    f"picture {name} is already in {cc.container_name!r}: pass --replace to "
                    "overwrite the container's pictures with these"
                ) from None
            if n % 500 == 0:
                log(f"pictures: {n} of {len(files)} uploaded")
        stored = {b.name: b.content_settings.content_md5 for b in cc.list_blobs()}
    wrong = [name for name, path in files.items() if bytes(stored.get(name) or b"") != _md5(path)]
    if wrong:
        raise BackupError(
            f"{len(wrong)} picture(s) in {cc.container_name!r} do not match their source "
            f"(first: {wrong[0]}): run the copy again with --replace"
        )
    total = sum(p.stat().st_size for p in files.values())
    return (
        f"pictures: {len(files)} files ({total / 2**20:.1f} MiB) in {cc.container_name!r}, "
        "verified by count and by the MD5 the storage service computed"
    )
