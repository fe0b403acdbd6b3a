"""Azure Managed Redis's backup (pipelines.backup.managed_redis): the ARM export with the real
azure-mgmt-redisenterprise client against tests/azure_models.py's model of the documented
export (Azure cannot run here), which writes a real redis-server's snapshot into Azurite,
Microsoft's Storage emulator, through the user delegation SAS the backup signed with its
Entra token: the SAS must really grant the write, and must never show in a message or log."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from aiohttp import web
from azure.core.credentials import AccessToken, TokenCredential
from azure.storage.blob import ContainerClient

from pipelines.backup import managed_redis, store
from pipelines.backup.manifest import BackupError, Entry
from tests.azure_models import RedisEnterpriseArm, serve
from tests.support.azurite import Azurite, azurite_server, token
from tests.support.servers import redis_server
from tests.support.tls import self_signed_tls

SUBSCRIPTION = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
DATABASE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-tts/providers/Microsoft.Cache"
    "/redisEnterprise/tts-redis/databases/default"
)
BACKUP = "20261205T020000Z"
ARM_TOKEN = "arm-token-of-the-backup-identity"  # noqa: S105 (a made-up test value)
KEYS = {f"session:{n}": f"value-{n}" for n in range(50)}


@dataclass
class Recording(TokenCredential):
    """A credential that hands out one token and remembers the scopes it was asked for."""

    token: str
    scopes: list[str] = field(default_factory=list)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with azurite_server(tmp_path_factory.mktemp("azurite")) as server:
        yield server


@pytest.fixture(scope="module")
def rdb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The snapshot a real redis-server writes of KEYS (`redis-cli --rdb`)."""
    directory = tmp_path_factory.mktemp("redis")
    with redis_server(directory / "server") as redis:
        for key, value in KEYS.items():
            redis.cli("SET", key, value)
        redis.cli("--rdb", str(directory / "dump.rdb"))
    return (directory / "dump.rdb").read_bytes()


@dataclass
class Backup:
    """The backup container (client with the storage identity's token) and its credential."""

    cc: ContainerClient
    storage: Recording


@pytest.fixture
def backup(azurite: Azurite, request: pytest.FixtureRequest) -> Backup:
    """A fresh backup container for each test, and a client of it that has not yet asked for
    a token (its first request will)."""
    name = f"m{abs(hash(request.node.name)) % 10**9}"
    azurite.create(name)
    storage = Recording(token())
    cc = store.container(azurite.account_url, name, storage, connection_verify=str(azurite.ca))
    return Backup(cc, storage)


@contextmanager
def served(app: web.Application, tls: Any) -> Iterator[str]:
    """`app` served from a thread of its own (the export under test blocks): its base URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = serve(app, tls)
    try:
        yield asyncio.run_coroutine_threadsafe(server.__aenter__(), loop).result(30)
    finally:
        asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@dataclass
class Cloud:
    model: RedisEnterpriseArm
    url: str
    ca: str
    arm: Recording
    log: list[str] = field(default_factory=list)

    def export(self, backup: Backup, database_id: str = DATABASE) -> list[Entry]:
        return managed_redis.export(
            self.arm, database_id, backup.cc, BACKUP, arm_endpoint=self.url,
            log=self.log.append, connection_verify=self.ca, polling_interval=0.05,
        )  # fmt: skip


@pytest.fixture
def cloud(azurite: Azurite, rdb: bytes, tmp_path: Path) -> Iterator[Cloud]:
    ca, tls = self_signed_tls(tmp_path)
    model = RedisEnterpriseArm(SUBSCRIPTION, "rg-tts", "tts-redis", ARM_TOKEN, rdb,
                               storage_ca=str(azurite.ca))  # fmt: skip
    with served(model.app(), tls) as url:
        yield Cloud(model, url, str(ca), Recording(ARM_TOKEN))


def one_line(err: pytest.ExceptionInfo[BackupError]) -> str:
    message = str(err.value)
    assert len(message.splitlines()) == 1, message
    return message


def test_the_export_lands_in_the_backup_as_the_snapshot_redis_wrote(
    cloud: Cloud, backup: Backup, rdb: bytes, tmp_path: Path
) -> None:
    [entry] = cloud.export(backup)
    assert entry.name == f"redis-export/{RedisEnterpriseArm.EXPORT_FILE}"
    data = backup.cc.download_blob(f"{BACKUP}/{entry.name}").readall()
    assert (entry.size, entry.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert hashlib.sha256(gzip.decompress(data)).hexdigest() == hashlib.sha256(rdb).hexdigest()
    # And it is a snapshot a redis-server restores, with every key.
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / "dump.rdb").write_bytes(gzip.decompress(data))
    with redis_server(restored, "--dbfilename", "dump.rdb") as redis:
        assert redis.cli("DBSIZE").strip() == str(len(KEYS))
        assert redis.cli("GET", "session:7").strip() == KEYS["session:7"]
    # ARM was asked with the ARM token, and polled until the operation had finished.
    assert cloud.arm.scopes == ["https://management.azure.com/.default"]
    assert cloud.model.requests >= 3  # the POST, an InProgress poll, the Succeeded poll
    assert [line.split(":")[0] for line in cloud.log] == ["redis export"] * 2


def test_the_sas_is_a_user_delegation_sas_that_can_only_write_the_backup(
    cloud: Cloud, backup: Backup, azurite: Azurite
) -> None:
    cloud.export(backup)
    [sas_uri] = cloud.model.sas_uris
    directory, _, sas = sas_uri.partition("?")
    assert directory == f"{backup.cc.url}/{BACKUP}/redis-export"
    signed = {name: values[0] for name, values in parse_qs(sas).items()}
    assert signed["sr"] == "c"  # the container: the export's file names are not known ahead
    assert signed["sp"] == "cwl"
    assert signed["skoid"] == "99999999-8888-7777-6666-555555555555"  # signed by the identity
    expiry = datetime.fromisoformat(signed["se"].replace("Z", "+00:00"))
    assert timedelta(hours=1, minutes=50) < expiry - datetime.now(UTC) <= timedelta(hours=2)
    # Azurite checks it: it reads nothing, deletes nothing, and a forged signature writes nothing.
    blob = f"{directory}/{RedisEnterpriseArm.EXPORT_FILE}"
    version = {"x-ms-version": RedisEnterpriseArm.STORAGE_VERSION}
    with httpx.Client(verify=ssl.create_default_context(cafile=azurite.ca)) as client:
        assert client.get(f"{blob}?{sas}", headers=version).status_code == 403
        assert client.delete(f"{blob}?{sas}", headers=version).status_code == 403
        forged = sas.replace("sig=", "sig=AAAA")
        put = client.put(f"{directory}/forged?{forged}", content=b"x",
                         headers={**version, "x-ms-blob-type": "BlockBlob"})  # fmt: skip
        assert put.status_code == 403
    assert [b.name for b in backup.cc.list_blobs()] == [
        f"{BACKUP}/redis-export/{RedisEnterpriseArm.EXPORT_FILE}"
    ]


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param("", id="empty"),
        pytest.param("tts-redis.westeurope.redis.azure.net:10000", id="host name"),
        pytest.param(DATABASE.replace("/default", "/db1"), id="other database"),
        pytest.param(DATABASE.replace("redisEnterprise/", "redis/"), id="Azure Cache for Redis"),
        pytest.param(DATABASE.replace(SUBSCRIPTION, "my-subscription"), id="subscription name"),
        pytest.param(DATABASE.replace("/databases/default", ""), id="cluster id"),
        pytest.param(DATABASE + "/export", id="with an action"),
    ],
)
def test_a_wrong_database_id_is_refused_in_one_line_before_any_request(
    cloud: Cloud, backup: Backup, wrong: str
) -> None:
    with pytest.raises(BackupError) as refused:
        cloud.export(backup, wrong)
    assert one_line(refused).endswith(
        f"is not the id of an Azure Managed Redis database: give {managed_redis.FORM} "
        "(`az redisenterprise database show --cluster-name C -g RG --query id`)"
    )
    assert (cloud.model.requests, cloud.arm.scopes, backup.storage.scopes) == (0, [], [])


def test_a_database_id_is_read_case_insensitively_as_arm_does() -> None:
    found = managed_redis.parse_database_id(" " + DATABASE.lower().replace("default", "default/"))
    assert (found.subscription, found.resource_group, found.cluster, found.database) == (
        SUBSCRIPTION, "rg-tts", "tts-redis", "default",
    )  # fmt: skip
    assert str(managed_redis.parse_database_id(DATABASE)) == DATABASE


def test_an_identity_without_the_export_permission_gets_the_role_to_grant(
    cloud: Cloud, backup: Backup
) -> None:
    cloud.model.may_export = False
    with pytest.raises(BackupError) as refused:
        cloud.export(backup)
    assert one_line(refused) == (
        "exporting Azure Managed Redis tts-redis: the identity may not export it "
        "(AuthorizationFailed: The client 'backup' with object id '0000' does not have "
        "authorization to perform action 'Microsoft.Cache/redisEnterprise/databases/export/"
        f"action' over scope '{DATABASE}' or the scope is invalid.): give it the "
        "Microsoft.Cache/redisEnterprise/databases/export/action permission on the database, "
        "by a role assigned on its resource group (the export's status is read there; the "
        "Bicep assigns one)"
    )
    assert list(backup.cc.list_blobs()) == []


def test_an_unknown_cluster_is_one_line(cloud: Cloud, backup: Backup) -> None:
    with pytest.raises(BackupError) as refused:
        cloud.export(backup, DATABASE.replace("tts-redis", "old-redis"))
    assert one_line(refused).startswith(
        f"exporting Azure Managed Redis old-redis: {DATABASE.replace('tts-redis', 'old-redis')} "
        "was not found (ResourceNotFound: "
    )


def test_a_failed_export_is_one_line_without_the_sas_it_echoed(
    cloud: Cloud, backup: Backup
) -> None:
    cloud.model.fail_with = (
        "One of the SAS URIs provided could not be used for the following reason: {sasUri}: "
        "The SAS token end time (se) must be at least 1 hour from now.\nRequestId: 42"
    )
    with pytest.raises(BackupError) as failed:
        cloud.export(backup)
    message = one_line(failed)
    assert message.startswith(
        "exporting Azure Managed Redis tts-redis: the export failed (ExportFailed: One of the "
        f"SAS URIs provided could not be used for the following reason: {backup.cc.url}/{BACKUP}"
        "/redis-export?<sas>: The SAS token end time (se) must be at least 1 hour from now.): "
    )
    [sas_uri] = cloud.model.sas_uris
    assert sas_uri.partition("?")[2] not in message


def test_the_sas_is_in_no_message_and_no_log_line(
    cloud: Cloud, backup: Backup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the Azure SDK's own HTTP logging too
    cloud.export(backup)
    cloud.model.fail_with = "cannot write to {sasUri}"  # echoed, as a careless service might
    with pytest.raises(BackupError) as failed:
        cloud.export(backup)
    # The client side's records: the model (the service, aiohttp and httpx) logs the SAS.
    model = ("aiohttp", "httpx", "httpcore")
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith(model)]
    assert any("operationsStatus" in line for line in ours)  # the SDK's HTTP log is there
    said = "\n".join([*cloud.log, str(failed.value), *ours])
    assert len(cloud.model.sas_uris) == 2
    assert "redis export: tts-redis into" in said  # what was said was captured
    for sas_uri in cloud.model.sas_uris:
        query = sas_uri.partition("?")[2]
        as_sent = dict(p.split("=", 1) for p in query.split("&"))["sig"]
        for signature in (as_sent, parse_qs(query)["sig"][0]):
            assert signature not in said
