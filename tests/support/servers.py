"""Real Redis and PostgreSQL servers on free loopback ports, in throw-away directories.

Debian's redis-server and PostgreSQL (scripts/test installs them). Each context manager
starts its server, waits until it answers, yields where it listens, and stops it on the way
out, also when the block fails. PostgreSQL refuses to run as root: as root the cluster is
owned by and run as the `postgres` user that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nothing listens on right now (TCP, or UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def _binary(name: str) -> str:
    """`name` from PATH or Debian's PostgreSQL directory; fail with the fix, never skip."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        pytest.fail(
            f"{name} is not installed: run scripts/test (apt-get install redis-server postgresql)"
        )
    return found


def _wait_for_port(
    port: int, what: str, proc: subprocess.Popen[bytes], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"{what} did not listen on {LOOPBACK}:{port} within {timeout:.0f} s")


@dataclass(frozen=True)
class Redis:
    port: int
    directory: Path

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def cli(self, *args: str) -> str:
        """redis-cli against this server; its stdout."""
        return subprocess.run(
            [_binary("redis-cli"), "-h", LOOPBACK, "-p", str(self.port), *args],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout  # fmt: skip


@contextmanager
def redis_server(directory: Path, *config: str) -> Iterator[Redis]:
    """redis-server on a free loopback port; extra `config` as command-line directives."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [_binary("redis-server"), "--bind", LOOPBACK, "--port", str(port),
         "--dir", str(directory), "--save", "", "--appendonly", "no", *config],
        stdout=(directory / "redis.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for_port(port, "redis-server", proc)
        yield Redis(port, directory)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str
    password: str

    def uri(self, database: str) -> str:
        return f"postgresql://{self.user}@{LOOPBACK}:{self.port}/{database}?sslmode=disable"

    def psql(self, database: str, sql: str) -> str:
        """One SQL statement through psql; its unaligned output."""
        return subprocess.run(
            [_binary("psql"), "-h", LOOPBACK, "-p", str(self.port), "-U", self.user,
             "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            env={**os.environ, "PGPASSWORD": self.password},
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip


def _wait_until_accepting(server: Postgres, timeout: float = 30) -> None:
    """The port opens before recovery ends ("the database system is starting up")."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.psql("postgres", "SELECT 1")
            return
        except subprocess.CalledProcessError as err:
            if time.monotonic() > deadline:
                pytest.fail(f"postgres did not accept connections: {err.stderr}")
            time.sleep(0.1)


@contextmanager
def postgres_server(user: str, password: str, *databases: str) -> Iterator[Postgres]:
    """A fresh PostgreSQL cluster on a free loopback port with a password user and databases.

    Its directory is its own under /tmp (removed afterwards): as root the cluster belongs to
    `postgres`, which cannot enter pytest's private temporary directories.
    """
    with tempfile.TemporaryDirectory(prefix="tts-ci-postgres-") as name:
        directory = Path(name)
        as_postgres: list[str] = []
        if os.geteuid() == 0:
            # setpriv execs (no parent process in between), so terminate() reaches postgres.
            as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
            shutil.chown(directory, "postgres", "postgres")
        with _postgres_in(directory, as_postgres, user, password, databases) as server:
            yield server


@contextmanager
def _postgres_in(
    directory: Path, as_postgres: list[str], user: str, password: str, databases: tuple[str, ...]
) -> Iterator[Postgres]:
    data, pwfile = directory / "data", directory / "pwfile"
    pwfile.write_text(password + "\n")
    if as_postgres:
        shutil.chown(pwfile, "postgres", "postgres")

    def run(*argv: str) -> None:
        result = subprocess.run([*as_postgres, *argv], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(argv[:2])} failed: {result.stdout}{result.stderr}")

    run(_binary("initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}",
        "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C")  # fmt: skip
    pwfile.unlink()
    port = free_port()
    log = directory / "postgres.log"
    proc = subprocess.Popen(
        [*as_postgres, _binary("postgres"), "-D", str(data), "-p", str(port),
         "-c", f"listen_addresses={LOOPBACK}", "-c", f"unix_socket_directories={directory}",
         "-c", "fsync=off"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for_port(port, "postgres", proc)
        server = Postgres(port, user, password)
        _wait_until_accepting(server)
        for database in databases:
            server.psql("postgres", f'CREATE DATABASE "{database}"')
        yield server
    finally:
        proc.terminate()  # SIGTERM: smart shutdown
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
