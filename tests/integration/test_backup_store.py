"""The backup container's client (pipelines.backup) against Azurite, Microsoft's Storage
emulator, over HTTPS with Entra ID bearer tokens: uploads, listing, fetching with checks,
the pictures copy, and every refusal as one line through the CLI the CronJob runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.backup import store
from pipelines.backup.manifest import MANIFEST, BackupError, parse_id
from tests.support.azurite import Azurite, azurite_server, token
from tests.support.paths import REPO_ROOT

BACKUPS = "tts-backups"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with azurite_server(tmp_path_factory.mktemp("azurite")) as server:
        yield server


@pytest.fixture
def container(azurite: Azurite, request: pytest.FixtureRequest) -> str:
    """A fresh backup container for each test."""
    name = f"b{abs(hash(request.node.name)) % 10**9}"
    azurite.create(name)
    return name


def cli(
    azurite: Azurite, *argv: str, access_token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m pipelines.backup …` as the CronJob runs it, against this Azurite."""
    env = {**os.environ, **azurite.env(access_token), "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "pipelines.backup", *argv]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, timeout=120
    )


def backup_files(directory: Path, size: int = 300_000) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "postgres.dump").write_bytes(os.urandom(size))
    (directory / "redis.rdb").write_bytes(b"REDIS0011" + os.urandom(size // 3))
    return directory


def test_a_backup_uploads_lists_and_fetches_with_every_file_checked(
    azurite: Azurite, container: str, tmp_path: Path
) -> None:
    source = backup_files(tmp_path / "dump")
    common = ("--account-url", azurite.account_url, "--container", container)
    done = cli(azurite, "upload", *common, "--from", str(source), "--id", "20261205T020000Z")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "20261205T020000Z"
    listed = cli(azurite, "list", *common)
    assert listed.stdout.strip() == "20261205T020000Z  complete"
    fetched = cli(azurite, "fetch", *common, "--to", str(tmp_path / "back"))
    assert fetched.returncode == 0, fetched.stderr
    manifest = json.loads(fetched.stdout)
    assert manifest["id"] == "20261205T020000Z"
    for name in ("postgres.dump", "redis.rdb"):
        assert (tmp_path / "back" / name).read_bytes() == (source / name).read_bytes()


def test_the_newest_complete_backup_is_chosen_and_an_interrupted_one_is_not(
    azurite: Azurite, container: str, tmp_path: Path
) -> None:
    cc = azurite.container(container)
    store.upload_backup(cc, backup_files(tmp_path / "a", 1000), "20261204T020000Z")
    store.upload_backup(cc, backup_files(tmp_path / "b", 1000), "20261205T020000Z")
    # Interrupted: its files arrived, its manifest (always last) did not.
    cc.upload_blob("20261206T020000Z/postgres.dump", b"partial")
    assert store.list_backups(cc) == {
        "20261204T020000Z": True, "20261205T020000Z": True, "20261206T020000Z": False,
    }  # fmt: skip
    assert store.newest(cc) == "20261205T020000Z"
    listed = cli(azurite, "list", "--account-url", azurite.account_url, "--container", container)
    assert "20261206T020000Z  INCOMPLETE (no manifest)" in listed.stdout


def test_a_backup_is_never_overwritten(azurite: Azurite, container: str, tmp_path: Path) -> None:
    cc = azurite.container(container)
    store.upload_backup(cc, backup_files(tmp_path / "a", 1000), "20261205T020000Z")
    with pytest.raises(BackupError, match="answered 409"):
        store.upload_backup(cc, backup_files(tmp_path / "b", 1000), "20261205T020000Z")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (
            lambda data: data[: len(data) // 2],
            r"redis\.rdb is \d+ bytes, its manifest says \d+: "
            r"the copy is truncated",
        ),
        (
            lambda data: data[:-1] + bytes([data[-1] ^ 1]),
            r"redis\.rdb does not match its manifest's SHA-256: the copy is corrupt",
        ),
    ],
    ids=["truncated", "corrupt"],
)
def test_a_damaged_backup_is_refused_in_one_line(
    azurite: Azurite, container: str, tmp_path: Path, damage: object, expected: str
) -> None:
    cc = azurite.container(container)
    store.upload_backup(cc, backup_files(tmp_path / "a"), "20261205T020000Z")
    blob = cc.get_blob_client("20261205T020000Z/redis.rdb")
    data = blob.download_blob().readall()
    blob.upload_blob(damage(data), overwrite=True)  # type: ignore[operator]
    done = cli(azurite, "fetch", "--account-url", azurite.account_url, "--container", container,
               "--to", str(tmp_path / "back"))  # fmt: skip
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("backup: backup 20261205T020000Z: ")
    assert __import__("re").search(expected, line), line


def test_refusals_are_one_line_each(azurite: Azurite, container: str, tmp_path: Path) -> None:
    url = ("--account-url", azurite.account_url)
    cases = {
        "missing container": (("list", *url, "--container", "no-such-container"), None,
                              "container 'no-such-container' of https://127.0.0.1:"),
        "expired token": (("list", *url, "--container", container), token(expires_in=-60),
                          "refused the credential (AuthenticationFailed: Lifetime validation "
                          "failed. The token is expired.)"),
        "token for another service": (("list", *url, "--container", container),
                                      token(audience="https://vault.azure.net"),
                                      "refused the credential (AuthenticationFailed: "),
        "no backup yet": (("fetch", *url, "--container", container), None,
                          f"container {container!r} holds no complete backup"),
        "unknown backup": (("fetch", *url, "--container", container, "--backup",
                            "20200101T000000Z"), None, "backup 20200101T000000Z has no "
                           f"{MANIFEST}: it does not exist or was interrupted"),
    }  # fmt: skip
    for what, (argv, access_token, expected) in cases.items():
        done = cli(azurite, *argv, access_token=access_token)
        print(f"{what}: {done.stderr.strip()}")
        assert done.returncode == 1, what
        assert len(done.stderr.splitlines()) == 1, (what, done.stderr)
        assert expected in done.stderr, (what, done.stderr)
    bad_id = cli(azurite, "fetch", *url, "--container", container, "--backup", "yesterday")
    assert bad_id.returncode == 2
    assert "'yesterday' is not a backup id" in bad_id.stderr


def test_a_backup_older_than_max_age_is_refused_before_download(
    azurite: Azurite, container: str, tmp_path: Path
) -> None:
    store.upload_backup(azurite.container(container), backup_files(tmp_path / "a", 1000),
                        "20240101T000000Z")  # fmt: skip
    done = cli(azurite, "fetch", "--account-url", azurite.account_url, "--container", container,
               "--max-age", "26h", "--to", str(tmp_path / "back"))  # fmt: skip
    assert done.returncode == 1
    assert "the newest backup, 20240101T000000Z, is " in done.stderr
    assert "older than --max-age (26 h): backups have stopped" in done.stderr
    assert not (tmp_path / "back").exists()


def test_pictures_are_backed_up_with_the_stores_and_restored_by_checksum(
    azurite: Azurite, tmp_path: Path
) -> None:
    uploads = azurite.create("tts-uploads")
    pictures = {"profile_pictures/u1/original.png": os.urandom(20_000),
                "end_device_pictures/app-1/dev-1/0.jpg": os.urandom(5_000)}  # fmt: skip
    for name, data in pictures.items():
        uploads.upload_blob(name, data)
    azurite.create(BACKUPS)
    common = ("--account-url", azurite.account_url, "--container", BACKUPS)
    done = cli(azurite, "upload", *common, "--from", str(backup_files(tmp_path / "dump", 100)),
               "--pictures-container", "tts-uploads", "--id", "20261205T020000Z")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pictures: 2 read from 'tts-uploads'" in done.stdout
    fetched = json.loads(cli(azurite, "fetch", *common, "--to", str(tmp_path / "b")).stdout)
    assert sorted(f["name"] for f in fetched["files"] if f["name"].startswith("pictures/")) == [
        f"pictures/{name}" for name in sorted(pictures)
    ]
    azurite.create("restored-uploads")
    pictures_dir = str(tmp_path / "b/pictures")
    put_argv = ("put-pictures", "--account-url", azurite.account_url,
                "--container", "restored-uploads", "--from", pictures_dir)  # fmt: skip
    put = cli(azurite, *put_argv)
    assert put.returncode == 0, put.stderr
    assert "pictures: 2 files" in put.stdout
    restored = azurite.container("restored-uploads")
    assert {n: restored.download_blob(n).readall() for n in pictures} == pictures
    again = cli(azurite, *put_argv)
    assert again.returncode == 1
    assert "is already in 'restored-uploads': pass --replace" in again.stderr


def test_pruning_deletes_old_backups_and_never_the_newest_complete_one(
    azurite: Azurite, container: str, tmp_path: Path
) -> None:
    cc = azurite.container(container)
    for backup_id in ("20260101T020000Z", "20260102T020000Z"):
        store.upload_backup(cc, backup_files(tmp_path / backup_id, 100), backup_id, log=print)
    cc.upload_blob("20260103T020000Z/postgres.dump", b"interrupted")  # no manifest
    now = parse_id("20260111T000000Z")
    deleted = store.prune(cc, now, timedelta(days=7), log=print)
    # The interrupted one is newer but incomplete: the newest complete one stays.
    assert deleted == 2
    assert store.list_backups(cc) == {"20260102T020000Z": True}
    done = cli(azurite, "upload", "--account-url", azurite.account_url, "--container", container,
               "--from", str(backup_files(tmp_path / "new", 100)), "--keep-days", "7")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "prune: 1 backup(s) older than 7 days deleted (20260102T020000Z first)" in done.stdout
    assert list(store.list_backups(cc).values()) == [True]
