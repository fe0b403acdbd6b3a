"""Azure Managed Redis's snapshot for a backup: its ARM export, into the backup container.

Azure Managed Redis (Microsoft.Cache/redisEnterprise) blocks the replication commands that
`redis-cli --rdb` needs, so its snapshot is the database's export: a long-running ARM POST
`<database id>/export` with `{"sasUri": ...}`, "SAS URI for the target directory to export
to" (the REST reference), after which the service has written the database as .gz block
blob(s) into that directory ("Data is exported as a .gz block blob"; their names are not
documented, so every blob found there is taken).

The directory is `<backup id>/redis-export/` in the backup container. The storage account
refuses shared keys, so the SAS is a user delegation SAS (signed with a key that the
identity's Entra token obtains), valid SAS_LIFETIME. A SAS is a password: it is never logged
and never put in a message, also not when a service echoes it back.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.mgmt.redisenterprise import RedisEnterpriseManagementClient
from azure.mgmt.redisenterprise.models import ExportClusterParameters
from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas

from pipelines.backup.manifest import REDIS_EXPORT, BackupError, Entry, parse_id
from pipelines.backup.store import Log, storage_errors

ARM: Final = "https://management.azure.com"
EXPORT_ACTION: Final = "Microsoft.Cache/redisEnterprise/databases/export/action"
# Azure wants the SAS to end at least 1 h from now (its import/export FAQ); 2 h leaves the
# export time to run, and the export is waited for no longer than its SAS can write.
SAS_LIFETIME: Final = timedelta(hours=2)
# Write the export's files and list them; no read and no delete, so the SAS cannot read or
# remove the other backups in the container. Azure's FAQ names more for an export SAS (read,
# add, create, write, delete, tag, move): whether these suffice is unproven against Azure.
SAS_PERMISSIONS: Final = "cwl"
FORM: Final = (
    "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Cache/redisEnterprise"
    "/<cluster>/databases/default"
)
# ARM ids compare case-insensitively; Azure Managed Redis has one database, `default`.
_DATABASE_ID: Final = re.compile(
    r"/subscriptions/([0-9a-f-]{36})/resourceGroups/([-\w.()]{1,90})/providers/"
    r"Microsoft\.Cache/redisEnterprise/([a-z0-9-]{1,60})/databases/(default)",
    re.IGNORECASE,
)
_SIGNATURE: Final = re.compile(r"(sig=)[^&\s\"'<]+", re.IGNORECASE)


@dataclass(frozen=True)
class DatabaseId:
    """An Azure Managed Redis database, by the parts of its ARM id."""

    subscription: str
    resource_group: str
    cluster: str
    database: str

    def __str__(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Cache/redisEnterprise/{self.cluster}/databases/{self.database}"
        )


def parse_database_id(text: str) -> DatabaseId:
    """The database `text` names (its ARM id); BackupError naming the expected form."""
    found = _DATABASE_ID.fullmatch(text.strip().rstrip("/"))
    if found is None:
        raise BackupError(
            f"{text[:200]!r} is not the id of an Azure Managed Redis database: give {FORM} "
            "(`az redisenterprise database show --cluster-name C -g RG --query id`)"
        )
    return DatabaseId(*found.groups())


def export(
    credential: TokenCredential,
    database_id: str,
    container_client: ContainerClient,
    backup_id: str,
    *,
    arm_endpoint: str = ARM,
    log: Log = print,
    **arm_options: Any,
) -> list[Entry]:
    """Export the database `database_id` into `<backup_id>/redis-export/` of the container and
    return what landed there as manifest entries (names below the backup, sizes, SHA-256).

    `arm_options` go to the ARM client (e.g. connection_verify, polling_interval).
    """
    database = parse_database_id(database_id)
    parse_id(backup_id)
    cc = container_client
    directory = f"{cc.url}/{backup_id}/{REDIS_EXPORT}"
    sas = _write_sas(cc)
    log(f"redis export: {database.cluster} into {directory}/ (SAS: write and list, {SAS_LIFETIME})")
    client = RedisEnterpriseManagementClient(
        credential, database.subscription, base_url=arm_endpoint, **arm_options
    )
    with client, _arm_errors(database, arm_endpoint, secret=sas):
        poller = client.databases.begin_export(
            database.resource_group,
            database.cluster,
            database.database,
            ExportClusterParameters(sas_uri=f"{directory}?{sas}"),
        )
        poller.result(timeout=SAS_LIFETIME.total_seconds())
        if not poller.done():
            raise BackupError(
                f"exporting Azure Managed Redis {database.cluster}: not finished after "
                f"{SAS_LIFETIME}, when its SAS expires: look at the export in the Azure portal, "
                "then run the backup again"
            )
    entries = _landed(cc, backup_id)
    total = sum(e.size for e in entries)
    log(f"redis export: {len(entries)} file(s), {total / 2**20:.1f} MiB in {directory}/")
    return entries


def _write_sas(cc: ContainerClient) -> str:
    """A user delegation SAS for the container that can only write and list, for SAS_LIFETIME."""
    now = datetime.now(UTC)
    with storage_errors(cc, "signing the redis export's SAS (Get User Delegation Key)"):
        # The account's client shares the container client's credential and transport.
        service = cc._get_blob_service_client()
        # The key starts 15 min back: Azure's export refuses a SAS that starts later (its FAQ);
        # the SAS itself names no start.
        key = service.get_user_delegation_key(now - timedelta(minutes=15), now + SAS_LIFETIME)
    return generate_container_sas(
        cc.account_name or "",
        cc.container_name,
        user_delegation_key=key,
        permission=ContainerSasPermissions.from_string(SAS_PERMISSIONS),
        expiry=now + SAS_LIFETIME,
    )


@contextmanager
def _arm_errors(database: DatabaseId, arm_endpoint: str, *, secret: str) -> Iterator[None]:
    """ARM's errors as one BackupError line that names the fix; never the SAS."""
    what = f"exporting Azure Managed Redis {database.cluster}"
    try:
        yield
    except ClientAuthenticationError as err:
        raise BackupError(
            f"{what}: Azure Resource Manager refused the credential ({_arm_code(err, secret)}): "
            "the token has expired or is not for https://management.azure.com; sign in again, or "
            "check the workload identity's federated credential"
        ) from None
    except ResourceNotFoundError as err:
        raise BackupError(
            f"{what}: {database} was not found ({_arm_code(err, secret)}): check the database id "
            "(`az redisenterprise database show --query id`)"
        ) from None
    except HttpResponseError as err:
        if err.status_code == 403:  # noqa: PLR2004
            raise BackupError(
                f"{what}: the identity may not export it ({_arm_code(err, secret)}): give it "
                f"the {EXPORT_ACTION} permission on the database, by a role assigned on its "
                "resource group (the export's status is read there; the Bicep assigns one)"
            ) from None
        if (failure := _failed_operation(err, secret)) is not None:
            raise BackupError(
                f"{what}: the export failed ({failure}): check that the storage account is in "
                "the cache's region and lets Azure services write to it, then run the backup again"
            ) from None
        raise BackupError(
            f"{what}: Azure Resource Manager answered {err.status_code} ({_arm_code(err, secret)})"
        ) from None
    except ServiceRequestError as err:
        raise BackupError(
            f"{what}: cannot reach {arm_endpoint} ({_redact(str(err), secret)[:120]})"
        ) from None


def _failed_operation(err: HttpResponseError, secret: str) -> str | None:
    """`code: message` of a long-running operation that ended Failed/Canceled, else None."""
    try:
        status = json.loads(err.response.text()) if err.response is not None else None
    except ValueError:
        return None
    if not isinstance(status, dict) or status.get("status") not in ("Failed", "Canceled"):
        return None
    error = status.get("error") or {}
    code, message = str(error.get("code") or status["status"]), str(error.get("message") or "")
    line = message.partition("\n")[0]
    return _redact(f"{code}: {line}" if line else code, secret)


def _arm_code(err: HttpResponseError, secret: str) -> str:
    """ARM's error code, and the first line of its message when it adds something."""
    code = str(getattr(err.error, "code", None) or err.reason or err.status_code)
    line = str(getattr(err.error, "message", None) or "").partition("\n")[0]
    return _redact(f"{code}: {line}" if line and line != code else code, secret)


def _redact(text: str, secret: str) -> str:
    """`text` without the SAS, nor any other SAS signature a service put in it."""
    return _SIGNATURE.sub(r"\1<redacted>", text.replace(secret, "<sas>"))


def _landed(cc: ContainerClient, backup_id: str) -> list[Entry]:
    """Every blob below `<backup_id>/redis-export/`, hashed as it streams by."""
    prefix = f"{backup_id}/{REDIS_EXPORT}/"
    entries = []
    with storage_errors(cc, f"reading the redis export of backup {backup_id}"):
        for blob in cc.list_blobs(name_starts_with=prefix):
            digest, size = hashlib.sha256(), 0
            for chunk in cc.download_blob(blob.name).chunks():
                digest.update(chunk)
                size += len(chunk)
            entries.append(Entry(blob.name.removeprefix(f"{backup_id}/"), size, digest.hexdigest()))
    if not entries:
        raise BackupError(
            f"the export wrote nothing under {cc.url}/{prefix} although Azure reported success: "
            "look for its files elsewhere in the container (`az storage blob list`)"
        )
    return entries
