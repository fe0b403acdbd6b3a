"""Real Redis and PostgreSQL servers on free loopback ports, in throw-away directories.

Debian's redis-server and PostgreSQL (scripts/test installs them). Each context manager
starts its server, waits until it answers, yields where it listens, and stops it on the way
out, also when the block fails. PostgreSQL refuses to run as root: as root the cluster is
owned by and run as the `postgres` user that Debian's package creates.
"""

from __future__ import annotations

import getpass
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.tls import LOOPBACK, self_signed_tls

__all__ = [
    "LOOPBACK", "Postgres", "Redis", "Sshd", "binary", "free_port", "listening",
    "postgres_server", "redis_server", "sshd_server", "started",
]  # fmt: skip


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nothing listens on right now (TCP, or UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def binary(name: str) -> str:
    """`name` from PATH, sbin or Debian's PostgreSQL directory; fail with the fix, never skip."""
    found = (
        shutil.which(name)
        or shutil.which(name, path="/usr/sbin:/sbin")
        or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    )
    if found is None:
        pytest.fail(
            f"{name} is not installed: run scripts/test (it installs redis-server, postgresql, "
            "openssh-server and mosquitto)"
        )
    return found


def _wait_for_port(
    port: int, what: str, proc: subprocess.Popen[bytes], timeout: float = 30, host: str = LOOPBACK
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"{what} did not listen on {host}:{port} within {timeout:.0f} s")


@contextmanager
def started(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` running (output to `log`); stopped on the way out (SIGTERM, then SIGKILL
    after 30 s), also when the block fails."""
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        stop(proc)


@contextmanager
def listening(
    argv: list[str], log: Path, port: int, what: str, host: str = LOOPBACK
) -> Iterator[None]:
    """`argv` running (output to `log`) once it listens on `host`:`port`; stopped on the way
    out."""
    with started(argv, log) as proc:
        _wait_for_port(port, what, proc, host=host)
        yield


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, as the kubelet sends; SIGKILL if the process is still there after 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class Redis:
    port: int
    directory: Path
    password: str = ""
    tls_ca: Path | None = None  # TLS only, with this certificate (as the CA to trust)

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{LOOPBACK}:{self.port}"

    def cli(self, *args: str) -> str:
        """redis-cli against this server; its stdout."""
        auth = ["--no-auth-warning", "-a", self.password] if self.password else []
        return subprocess.run(
            [binary("redis-cli"), "-h", LOOPBACK, "-p", str(self.port), *auth, *args],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout  # fmt: skip


@contextmanager
def redis_server(
    directory: Path, *config: str, password: str = "", tls: bool = False
) -> Iterator[Redis]:
    """redis-server on a free loopback port, no persistence unless `config` (command-line
    directives, later ones win) turns it on; `password` sets requirepass; `tls` serves TLS
    only (like Azure Managed Redis), with a fresh self-signed certificate."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    auth = ["--requirepass", password] if password else []
    listen = ["--port", str(port)]
    ca = None
    if tls:
        ca, _ = self_signed_tls(directory)
        key = directory / "tls.key"
        listen = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(ca),
                  "--tls-key-file", str(key), "--tls-auth-clients", "no"]  # fmt: skip
    argv = [binary("redis-server"), "--bind", LOOPBACK, *listen, "--dir", str(directory),
            "--save", "", "--appendonly", "no", *auth, *config]  # fmt: skip
    with listening(argv, directory / "redis.log", port, "redis-server"):
        yield Redis(port, directory, password, ca)


@contextmanager
def mosquitto_server(directory: Path, *, only_user: str | None = None) -> Iterator[int]:
    """mosquitto (an MQTT broker) on a free loopback port; its port. Anyone may connect,
    unless `only_user`: then every other login is refused (CONNACK "not authorized")."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    # Started as root, mosquitto drops to user "mosquitto", who cannot read a test's files.
    config = [f"listener {port} {LOOPBACK}", "persistence false", f"user {getpass.getuser()}"]
    if only_user is None:
        config.append("allow_anonymous true")
    else:
        passwords = directory / "passwords"
        subprocess.run([binary("mosquitto_passwd"), "-c", "-b", str(passwords), only_user,
                        secrets.token_hex(16)], check=True, capture_output=True)  # fmt: skip
        config += ["allow_anonymous false", f"password_file {passwords}"]
    conf = directory / "mosquitto.conf"
    conf.write_text("\n".join(config) + "\n")
    with listening([binary("mosquitto"), "-c", str(conf)], directory / "mosquitto.log", port,
                   "mosquitto"):  # fmt: skip
        yield port


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str
    password: str

    def uri(self, database: str, *, password: str | None = None) -> str:
        """libpq URI of `database`; with `password` (e.g. self.password) in it."""
        auth = self.user if password is None else f"{self.user}:{password}"
        return f"postgresql://{auth}@{LOOPBACK}:{self.port}/{database}?sslmode=disable"

    def psql(self, database: str, sql: str) -> str:
        """One SQL statement through psql; its unaligned output."""
        return subprocess.run(
            [binary("psql"), "-h", LOOPBACK, "-p", str(self.port), "-U", self.user,
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

    run(binary("initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}",
        "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C")  # fmt: skip
    pwfile.unlink()
    port = free_port()
    argv = [*as_postgres, binary("postgres"), "-D", str(data), "-p", str(port),
            "-c", f"listen_addresses={LOOPBACK}", "-c", f"unix_socket_directories={directory}",
            "-c", "fsync=off"]  # fmt: skip
    # SIGTERM on the way out is postgres's smart shutdown.
    with listening(argv, directory / "postgres.log", port, "postgres"):
        server = Postgres(port, user, password)
        _wait_until_accepting(server)
        for database in databases:
            server.psql("postgres", f'CREATE DATABASE "{database}"')
        yield server


@dataclass(frozen=True)
class Sshd:
    """An OpenSSH server on loopback that lets `user` in with `key_file`."""

    port: int
    user: str
    key_file: Path
    known_hosts: Path

    @property
    def target(self) -> str:
        return f"{self.user}@{LOOPBACK}:{self.port}"


@contextmanager
def sshd_server(directory: Path) -> Iterator[Sshd]:
    """Debian's sshd on a free loopback port: throw-away host and client keys, key auth only,
    TCP forwarding on (what a migration's tunnel needs)."""
    directory.mkdir(parents=True, exist_ok=True)
    keygen = binary("ssh-keygen")
    host_key, client_key = directory / "host_ed25519", directory / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    authorized = directory / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    port = free_port()
    user = os.environ.get("USER") or "root"
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress {LOOPBACK}\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {authorized}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\nAllowTcpForwarding yes\n"
        f"PidFile {directory / 'sshd.pid'}\n"
    )
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[{LOOPBACK}]:{port} {Path(f'{host_key}.pub').read_text()}")
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    argv = [binary("sshd"), "-D", "-e", "-f", str(config)]
    with listening(argv, directory / "sshd.log", port, "sshd"):
        yield Sshd(port, user, client_key, known_hosts)
