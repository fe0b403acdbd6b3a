"""pipelines.signing with the real tools: cosign and oras (pinned, tools/supplychain) against
an OCI 1.1 registry with the referrers API (tools/supplychain/ociregistry, from
go-containerregistry's registry package), and test keys made with `cryptography`.

publish's steps (attach the SBOM, sign) and deploy's check (verify) run here exactly as the
Dagger functions run them, through the same pipelines.signing calls; only the Workspace is
a temporary directory instead of a container. The Key Vault signer runs through the real
azure-keyvault-keys against a model of Key Vault's documented keys API (no Azure here).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.core.credentials import AccessToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pipelines import oci, signing
from tests.azure_models import KeyVault, serve
from tests.support.paths import tool_path
from tests.support.servers import LOOPBACK, free_port, listening
from tests.support.signing_tools import DirectoryWorkspace
from tests.support.tls import self_signed_tls

# A CycloneDX document as Trivy writes it for an image (trimmed to what the test reads).
SBOM = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "libc6"}]}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("registry") / "ociregistry.log"
    argv = [str(tool_path("ociregistry")), "-address", f"{LOOPBACK}:{port}"]
    with listening(argv, log, port, "ociregistry"):
        yield f"{LOOPBACK}:{port}"


def push_image(registry: str, tag: str, content: str, tmp: Path) -> oci.ImageRef:
    """A one-layer image pushed with oras; its manifest digest, as publish prints it."""
    (tmp / "layer.txt").write_text(content)
    ref = f"{registry}/tts-ci/signing:{tag}"
    done = subprocess.run(
        [str(tool_path("oras")), "push", "--plain-http", ref, "layer.txt"],
        cwd=tmp, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    digest = next(
        line.split()[-1] for line in done.stdout.splitlines() if line.startswith("Digest:")
    )
    return signing.digest_ref(f"{registry}/tts-ci/signing@{digest}")


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"test-passphrase"),
    )


def sbom_referrers(ref: oci.ImageRef) -> list[str]:
    """Digests of the SBOMs among the digest's referrers, by the registry's referrers API.

    Each referrer's own manifest gives its artifactType: go-containerregistry's registry
    fills the descriptor's artifactType from config.mediaType only (an OCI 1.1 artifact
    manifest carries it at the top level, as oras writes it and ACR reports it)."""
    registry, repository = ref.repository.split("/", 1)
    base = f"http://{registry}/v2/{repository}"
    index = httpx.get(f"{base}/referrers/{ref.digest}", timeout=10).raise_for_status().json()
    found = []
    for descriptor in index["manifests"]:
        accept = {"Accept": descriptor["mediaType"]}
        url = f"{base}/manifests/{descriptor['digest']}"
        manifest = httpx.get(url, headers=accept, timeout=10).raise_for_status().json()
        assert manifest["subject"]["digest"] == ref.digest
        if manifest.get("artifactType") == signing.SBOM_ARTIFACT_TYPE:
            found.append(descriptor["digest"])
    return found


def test_publish_attaches_an_sbom_referrer_and_signs_and_deploy_verifies(
    registry: str, tmp_path: Path
) -> None:
    ws = DirectoryWorkspace(tmp_path)
    ref = push_image(registry, "signed", "a release", tmp_path)
    (tmp_path / "sbom.cdx.json").write_text(json.dumps(SBOM))
    key = new_key()
    signer = signing.PemSigner.load(pem(key), b"test-passphrase", "the test key")

    attached = asyncio.run(signing.attach_sbom(ws, ref, "sbom.cdx.json", plain_http=True))
    signed = asyncio.run(signing.sign(ws, ref, signer, plain_http=True))
    public = asyncio.run(signer.public_key_pem())
    verified = asyncio.run(signing.verify(ws, ref, public, "the test key", plain_http=True))
    print(attached, signed, verified, sep="\n")

    sboms = sbom_referrers(ref)
    assert len(sboms) == 1, sboms
    assert f"attached SBOM {ref.repository}@{sboms[0]}" in attached
    # The SBOM comes back byte for byte through its referrer.
    pulled = tmp_path / "pulled"
    subprocess.run(
        [str(tool_path("oras")), "pull", "--plain-http", "-o", str(pulled),
         f"{ref.repository}@{sboms[0]}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert json.loads((pulled / "sbom.cdx.json").read_text()) == SBOM
    assert signed == f"signed {ref} with the test key"
    assert verified == f"verified {ref}: signed by the test key"


def test_deploy_refuses_an_unsigned_digest_and_another_keys_signature(
    registry: str, tmp_path: Path
) -> None:
    ws = DirectoryWorkspace(tmp_path)
    ours, theirs = new_key(), new_key()
    expected = "Key Vault key https://tts-sign.vault.azure.net/keys/image-signing"
    public = signing.public_pem(ours.public_key())

    unsigned = push_image(registry, "unsigned", "never signed", tmp_path)
    with pytest.raises(signing.SignatureRefused) as no_signature:
        asyncio.run(signing.verify(ws, unsigned, public, expected, plain_http=True))
    assert str(no_signature.value) == (
        f"refusing to deploy {unsigned}: it has no signature; expected a signature by "
        f"{expected} (publish signs what it pushes)"
    )

    forged = push_image(registry, "other-key", "signed by someone else", tmp_path)
    other = signing.PemSigner.load(pem(theirs), b"test-passphrase", "another key")
    asyncio.run(signing.sign(ws, forged, other, plain_http=True))
    with pytest.raises(signing.SignatureRefused) as wrong_key:
        asyncio.run(signing.verify(ws, forged, public, expected, plain_http=True))
    assert str(wrong_key.value) == (
        f"refusing to deploy {forged}: no signature on it is by that key; expected a "
        f"signature by {expected} (publish signs what it pushes)"
    )
    # The same digest verifies with the key that did sign it: the refusal was the key's.
    other_public = signing.public_pem(theirs.public_key())
    asyncio.run(signing.verify(ws, forged, other_public, "another key", plain_http=True))


class StaticToken:
    """An AsyncTokenCredential with one token (the login itself is tested elsewhere:
    tests/integration/test_acr_exchange.py); records the scopes asked for."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[str] = []

    async def get_token(self, *scopes: str, **_: object) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticToken:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


def test_the_key_vault_signer_signs_what_cosign_verifies(registry: str, tmp_path: Path) -> None:
    """KeyVaultSigner through the real azure-keyvault-keys against the Key Vault model
    (tests/azure_models.py): the challenge, the JWK of the public key, ES256 over the
    payload's SHA-256 and its r||s answer; cosign then verifies with that public key."""
    ca_file, tls = self_signed_tls(tmp_path)
    vault = KeyVault(tenant_id="t", token="kv-token")
    credential = StaticToken("kv-token")
    ws = DirectoryWorkspace(tmp_path)
    ref = push_image(registry, "key-vault", "signed in Key Vault", tmp_path)

    async def sign_and_read_key() -> tuple[str, bytes]:
        async with serve(vault.app(), tls) as url:
            vault.base_url = url
            signer = signing.KeyVaultSigner(
                f"{url}/keys/{vault.name}/{vault.version}", credential,
                {"connection_verify": str(ca_file), "verify_challenge_resource": False},
            )  # fmt: skip
            signed = await signing.sign(ws, ref, signer, plain_http=True)
            return signed, await signer.public_key_pem()

    signed, public = asyncio.run(sign_and_read_key())
    assert signed.startswith(f"signed {ref} with Key Vault key https://")
    assert public == signing.public_pem(vault.key.public_key())
    payload = (tmp_path / "payload.json").read_bytes()
    assert vault.signed == [hashlib.sha256(payload).digest()]
    assert vault.challenged >= 1  # the SDK met the challenge and came back with the token
    verified = asyncio.run(signing.verify(ws, ref, public, "the vault's key", plain_http=True))
    assert verified == f"verified {ref}: signed by the vault's key"
