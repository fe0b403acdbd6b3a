"""What publish attaches to a pushed digest, and what deploy checks before helm runs.

- SBOM: Trivy writes a CycloneDX SBOM of the image; `oras attach` pushes it as an OCI 1.1
  referrer of the digest (artifactType application/vnd.cyclonedx+json).
- Signature: cosign's format. `cosign generate` prints the payload for the digest, a
  Signer signs it (ECDSA P-256, SHA-256), `cosign attach signature` stores it next to the
  digest, and `cosign verify --key` checks it. Signing happens here, not in cosign, so that
  the Key Vault key is used through azure-keyvault-keys with the same login as the rest of
  publish (GitHub OIDC or your az login); the private key never leaves the vault.

Why cosign and not Notation (docs/supply-chain.md): cosign verifies with a bare public key
(no certificate chain, trust store or trust policy to keep), the same key type signs with
Key Vault or with a local PEM key, and its CLI comes from the Go module proxy; Notation's
CLI and Key Vault plugin do not, so neither could be tested here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from azure.keyvault.keys import KeyVaultKeyIdentifier
from azure.keyvault.keys.aio import KeyClient
from azure.keyvault.keys.crypto import SignatureAlgorithm
from azure.keyvault.keys.crypto.aio import CryptographyClient
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pipelines import oci

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

# The CycloneDX media type; oras and the referrers API filter on it.
SBOM_ARTIFACT_TYPE: Final = "application/vnd.cyclonedx+json"
# Bytes of one P-256 integer (r, s, x, y).
_P256_BYTES: Final = 32
# Key Vault's data-plane scope, for the signer's token.
KEY_VAULT_SCOPE: Final = "https://vault.azure.net/.default"
# https://<vault>.vault.azure.net/keys/<name>[/<version>], as `az keyvault key show` prints.
_KEY_VAULT_KEY_ID = re.compile(
    r"^https://(?P<vault>[a-z0-9-]{3,24})\.vault\.azure\.net/keys/(?P<name>[A-Za-z0-9-]{1,127})"
    r"(?:/(?P<version>[0-9a-f]{32}))?/?$"
)


class Signer(Protocol):
    """Signs cosign payloads with one ECDSA P-256 key and names that key."""

    @property
    def description(self) -> str: ...

    async def sign(self, payload: bytes) -> bytes:
        """The DER-encoded ECDSA signature of SHA-256(payload)."""
        ...

    async def public_key_pem(self) -> bytes: ...


@dataclass(frozen=True)
class PemSigner:
    """A local EC P-256 private key (PEM, optionally encrypted): offline and test signing."""

    key: ec.EllipticCurvePrivateKey
    description: str

    @classmethod
    def load(cls, pem: bytes, password: bytes | None, description: str) -> PemSigner:
        try:
            key = serialization.load_pem_private_key(pem, password or None)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"signing key {description}: not a readable PEM private key ({error}); "
                "make one with `openssl ecparam -genkey -name prime256v1 -noout`"
            ) from None
        _check_p256(key, description)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(key, description)

    async def sign(self, payload: bytes) -> bytes:
        return self.key.sign(payload, ec.ECDSA(hashes.SHA256()))

    async def public_key_pem(self) -> bytes:
        return public_pem(self.key.public_key())


@dataclass(frozen=True)
class KeyVaultSigner:
    """An EC P-256 key in Azure Key Vault (Bicep output signingKeyId), used through
    azure-keyvault-keys: sign needs keys/sign/action, the public key keys/read.
    `client_options` go to the SDK clients (the tests' CA bundle for a local model)."""

    key_id: str
    credential: AsyncTokenCredential
    client_options: Mapping[str, object] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return f"Key Vault key {self.key_id}"

    async def sign(self, payload: bytes) -> bytes:
        client = CryptographyClient(self.key_id, self.credential, **self.client_options)
        async with client:
            result = await client.sign(SignatureAlgorithm.es256, hashlib.sha256(payload).digest())
        return der_from_raw(result.signature)

    async def public_key_pem(self) -> bytes:
        key_id = KeyVaultKeyIdentifier(self.key_id)
        async with KeyClient(key_id.vault_url, self.credential, **self.client_options) as client:
            key = await client.get_key(key_id.name, key_id.version)
        # JsonWebKey sets its fields dynamically (no attributes for a type checker).
        crv, x, y = (getattr(key.key, name, None) for name in ("crv", "x", "y"))
        if crv != "P-256" or not isinstance(x, bytes) or not isinstance(y, bytes):
            raise ValueError(f"{self.description} is not an EC P-256 key (crv {crv})")
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        )
        return public_pem(numbers.public_key())


def check_key_vault_key_id(key_id: str) -> None:
    """A malformed Key Vault key id fails before any work."""
    if _KEY_VAULT_KEY_ID.match(key_id) is None:
        raise ValueError(
            f"signing key {key_id!r} is not a Key Vault key id: use "
            "https://<vault>.vault.azure.net/keys/<name> (Bicep output signingKeyId)"
        )


def der_from_raw(raw: bytes) -> bytes:
    """Key Vault returns ES256 signatures as r||s (JWS form); cosign wants ASN.1 DER."""
    if len(raw) != 2 * _P256_BYTES:
        raise ValueError(f"an ES256 signature has 64 bytes (r||s), this one {len(raw)}")
    r, s = raw[:_P256_BYTES], raw[_P256_BYTES:]
    return encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))


def public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_public_key(pem: bytes, description: str) -> None:
    """A verification key must be a PEM EC P-256 public key; say so before any work."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as error:
        raise ValueError(
            f"verification key {description}: not a PEM public key ({error}); "
            "pass the signer's public key, e.g. `cosign public-key --key <signing key>`"
        ) from None
    _check_p256(key, description)


def _check_p256(key: object, description: str) -> None:
    curve = getattr(key, "curve", None)
    if not isinstance(curve, ec.SECP256R1):
        raise ValueError(f"key {description} is not an EC P-256 key: cosign signs with ES256")


async def signature_b64(signer: Signer, payload: bytes) -> str:
    """The base64 signature file that `cosign attach signature --signature` reads."""
    return base64.b64encode(await signer.sign(payload)).decode()


def digest_ref(ref: str) -> oci.ImageRef:
    """Signing and verifying are by digest only: a tag could move after the check."""
    parsed = oci.parse_image_ref(ref)
    if parsed.digest is None:
        raise ValueError(
            f"image {ref!r} has no digest: sign and verify <registry>/<repo>@sha256:<digest>, "
            "as publish prints it last"
        )
    return oci.ImageRef(parsed.repository, None, parsed.digest)


def trivy_sbom_argv(image_tar: str, sbom: str) -> list[str]:
    """`trivy image --format cyclonedx` of an image tarball: every package, no DB needed."""
    return ["trivy", "image", "--input", image_tar, "--format", "cyclonedx", "--output", sbom]


def oras_attach_argv(ref: oci.ImageRef, sbom: str, plain_http: bool) -> list[str]:
    """Push `sbom` as an OCI 1.1 referrer of the digest `ref` (the referrers API where the
    registry has it, as ACR does; oras falls back to the referrers tag elsewhere)."""
    http = ["--plain-http"] if plain_http else []
    return [
        "oras", "attach", *http, "--artifact-type", SBOM_ARTIFACT_TYPE,
        str(ref), f"{sbom}:{SBOM_ARTIFACT_TYPE}",
    ]  # fmt: skip


def cosign_generate_argv(ref: oci.ImageRef, plain_http: bool) -> list[str]:
    """The payload cosign signs for the digest `ref` (simple signing JSON), on stdout."""
    return ["cosign", "generate", *_cosign_http(plain_http), str(ref)]


def cosign_attach_argv(
    ref: oci.ImageRef, payload: str, signature: str, plain_http: bool
) -> list[str]:
    return [
        "cosign", "attach", "signature", *_cosign_http(plain_http),
        "--payload", payload, "--signature", signature, str(ref),
    ]  # fmt: skip


def cosign_verify_argv(ref: oci.ImageRef, public_key: str, plain_http: bool) -> list[str]:
    """Verify with the public key. --insecure-ignore-tlog: these signatures are not in the
    public Rekor log (that would publish a private image's digest); the key is the trust."""
    return [
        "cosign", "verify", *_cosign_http(plain_http), "--key", public_key,
        "--insecure-ignore-tlog=true", "--output", "json", str(ref),
    ]  # fmt: skip


def docker_config(server: str, username: str, password: str) -> str:
    """A Docker config.json with one login: how cosign and oras find registry credentials."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {server: {"auth": auth}}})


def _cosign_http(plain_http: bool) -> list[str]:
    return ["--allow-insecure-registry", "--allow-http-registry"] if plain_http else []


class Workspace(Protocol):
    """Where the tools run: a container in Dagger, a temporary directory in the tests."""

    async def write(self, name: str, text: str) -> None: ...

    async def run(self, argv: list[str]) -> tuple[int, str, str]:
        """Exit code, stdout, stderr."""
        ...


class SignatureRefused(Exception):
    """cosign verify failed: the message is deploy's one line."""


async def attach_sbom(ws: Workspace, ref: oci.ImageRef, sbom: str, plain_http: bool) -> str:
    """Attach the SBOM file `sbom` (in `ws`) to the digest; the report line names both."""
    output = await _checked(ws, oras_attach_argv(ref, sbom, plain_http), "attaching the SBOM")
    found = re.search(r"^Digest: (sha256:[0-9a-f]{64})$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"oras attach printed no digest:\n{output}")
    return f"attached SBOM {ref.repository}@{found[1]} ({SBOM_ARTIFACT_TYPE}) to {ref}"


async def sign(ws: Workspace, ref: oci.ImageRef, signer: Signer, plain_http: bool) -> str:
    """Sign the digest `ref` with `signer` and store the signature next to it."""
    payload = await _checked(ws, cosign_generate_argv(ref, plain_http), "cosign generate")
    await ws.write("payload.json", payload)
    await ws.write("signature.b64", await signature_b64(signer, payload.encode()))
    argv = cosign_attach_argv(ref, "payload.json", "signature.b64", plain_http)
    await _checked(ws, argv, "attaching the signature")
    return f"signed {ref} with {signer.description}"


async def verify(
    ws: Workspace, ref: oci.ImageRef, public_key_pem: bytes, expected: str, plain_http: bool
) -> str:
    """Check that `ref` carries a signature by the key; SignatureRefused in one line if not."""
    check_public_key(public_key_pem, expected)
    await ws.write("signing.pub", public_key_pem.decode())
    code, out, err = await ws.run(cosign_verify_argv(ref, "signing.pub", plain_http))
    if code != 0:
        raise SignatureRefused(refusal(ref, expected, err + out))
    return f"verified {ref}: signed by {expected}"


async def _checked(ws: Workspace, argv: list[str], what: str) -> str:
    code, out, err = await ws.run(argv)
    if code != 0:
        hint = ""
        if "server gave HTTP response to HTTPS client" in err:
            hint = " (the registry speaks plain HTTP: pass --plain-http)"
        raise RuntimeError(
            f"{what} failed{hint} (`{' '.join(argv[:3])} …` exit {code}):\n{err}{out}"
        )
    return out


def refusal(ref: oci.ImageRef, expected: str, cosign_output: str) -> str:
    """deploy's one line when `cosign verify` fails: which digest, what was expected, why."""
    # cosign v2's own words (its exit codes 10 and 12).
    if "no signatures found" in cosign_output:
        why = "it has no signature"
    elif "no matching signatures" in cosign_output:
        why = "no signature on it is by that key"
    else:
        last = [line for line in cosign_output.strip().splitlines() if line.strip()]
        why = f"cosign verify failed: {last[-1] if last else 'no output'}"
    return (
        f"refusing to deploy {ref}: {why}; expected a signature by {expected} "
        "(publish signs what it pushes)"
    )
