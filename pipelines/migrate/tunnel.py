"""Reach a VM's PostgreSQL and Redis through SSH: local ports forwarded to the VM's ports.

The upstream docker-compose deployment publishes them on the VM's loopback only
(`127.0.0.1:5432`, `127.0.0.1:6379`), which is exactly what an SSH local forward reaches. The
host key is checked against the known_hosts file given: a tunnel to an unverified host would
hand it the database passwords.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipelines.migrate.errors import MigrationError

_TARGET = re.compile(r"^(?:(?P<user>[^@\s]+)@)?(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?$")
_FORWARD = re.compile(r"^(\d{1,5}):([A-Za-z0-9.-]+):(\d{1,5})$")


@dataclass(frozen=True)
class SshTarget:
    user: str
    host: str
    port: int


@dataclass(frozen=True)
class Forward:
    local_port: int
    remote_host: str
    remote_port: int


def parse_target(text: str) -> SshTarget:
    """`user@host[:port]`; the user defaults to root, the port to 22."""
    match = _TARGET.match(text)
    if match is None:
        raise ValueError(f"SSH host {text!r} is not user@host[:port] (e.g. tts@vm.example.com)")
    return SshTarget(match["user"] or "root", match["host"], int(match["port"] or 22))


def parse_forward(text: str) -> Forward:
    """`LOCAL:REMOTE_HOST:REMOTE_PORT`, as ssh -L takes it."""
    match = _FORWARD.match(text)
    if match is None:
        raise ValueError(f"forward {text!r} is not LOCAL_PORT:REMOTE_HOST:REMOTE_PORT")
    return Forward(int(match[1]), match[2], int(match[3]))


async def serve(
    target: SshTarget,
    key_file: Path,
    known_hosts: Path,
    forwards: list[Forward],
    bind: str = "0.0.0.0",  # noqa: S104 - inside the tunnel's own container
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Hold the forwards open until the SSH connection ends."""
    # Imported here: the Dagger module parses targets but only the tunnel container serves.
    import asyncssh  # noqa: PLC0415

    try:
        async with asyncssh.connect(
            target.host, port=target.port, username=target.user,
            client_keys=[str(key_file)], known_hosts=str(known_hosts),
        ) as connection:  # fmt: skip
            for forward in forwards:
                await connection.forward_local_port(
                    bind, forward.local_port, forward.remote_host, forward.remote_port
                )
            on_ready()
            await connection.wait_closed()
    except asyncssh.HostKeyNotVerifiable:
        raise MigrationError(
            f"the SSH host key of {target.host} is not in the known_hosts given: add it "
            f"(ssh-keyscan -p {target.port} {target.host}, then check its fingerprint)"
        ) from None
    except asyncssh.PermissionDenied:
        raise MigrationError(
            f"{target.user}@{target.host} refused the SSH key: add its public key to the "
            "VM's authorized_keys"
        ) from None
    except (OSError, asyncssh.Error) as err:
        raise MigrationError(f"SSH to {target.host}:{target.port}: {err}") from None
