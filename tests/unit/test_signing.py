"""pipelines.signing without tools: input checks that fail before any work, and the
Key Vault signature conversion (tests/integration/test_signing.py runs cosign and oras)."""

import asyncio
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from pipelines import oci, signing

DIGEST = "sha256:" + "ab" * 32
REF = oci.ImageRef("ttsprodacr.azurecr.io/thethingsstack", None, DIGEST)


def test_a_key_vault_key_id_is_checked_and_a_wrong_one_names_the_form() -> None:
    signing.check_key_vault_key_id(
        "https://tts-prod-sign.vault.azure.net/keys/image-signing/" + "0f" * 16
    )
    signing.check_key_vault_key_id("https://tts-prod-sign.vault.azure.net/keys/k1")
    for wrong in [
        "tts-prod-sign/image-signing",
        "https://tts-prod-sign.vault.azure.net/secrets/image-signing",
        "http://tts-prod-sign.vault.azure.net/keys/image-signing",
        "azurekms://tts-prod-sign.vault.azure.net/image-signing",
    ]:
        with pytest.raises(ValueError, match=r"https://<vault>\.vault\.azure\.net/keys/<name>"):
            signing.check_key_vault_key_id(wrong)


def test_key_vault_r_s_becomes_a_der_signature_that_verifies() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    payload = b'{"critical":{}}'
    # Key Vault signs the SHA-256 digest it is sent and answers r||s, 32 bytes each.
    der = key.sign(hashlib.sha256(payload).digest(), ec.ECDSA(Prehashed(hashes.SHA256())))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    converted = signing.der_from_raw(raw)
    key.public_key().verify(converted, payload, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        key.public_key().verify(converted, payload + b" ", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(ValueError, match="64 bytes"):
        signing.der_from_raw(raw[:63])


def test_a_pem_signer_refuses_what_cosign_cannot_verify() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="not an EC P-256 key"):
        signing.PemSigner.load(rsa_pem, None, "--signing-key")
    with pytest.raises(ValueError, match="--signing-key: not a readable PEM private key"):
        signing.PemSigner.load(b"not a key", None, "--signing-key")
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match="not an EC P-256 key"):
        signing.check_public_key(signing.public_pem(p384.public_key()), "the key")
    encrypted = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"right"),
    )
    with pytest.raises(ValueError, match="not a readable PEM private key"):
        signing.PemSigner.load(encrypted, b"wrong", "--signing-key")
    signer = signing.PemSigner.load(encrypted, b"right", "--signing-key")
    signature = asyncio.run(signer.sign(b"payload"))
    signer.key.public_key().verify(signature, b"payload", ec.ECDSA(hashes.SHA256()))


def test_only_a_digest_is_signed_or_verified() -> None:
    assert signing.digest_ref(f"ttsprodacr.azurecr.io/thethingsstack:3.32.0@{DIGEST}") == REF
    with pytest.raises(ValueError, match="has no digest"):
        signing.digest_ref("ttsprodacr.azurecr.io/thethingsstack:3.32.0")


def test_the_refusal_names_digest_key_and_reason() -> None:
    expected = "Key Vault key https://v.vault.azure.net/keys/k"
    unsigned = signing.refusal(REF, expected, "Error: no signatures found\n")
    assert unsigned == (
        f"refusing to deploy {REF}: it has no signature; expected a signature by {expected} "
        "(publish signs what it pushes)"
    )
    other = signing.refusal(REF, expected, "Error: no matching signatures: invalid signature\n")
    assert "no signature on it is by that key" in other
    unknown = signing.refusal(REF, expected, "WARNING: x\nError: GET https://… 401 Unauthorized\n")
    assert "cosign verify failed: Error: GET https://… 401 Unauthorized;" in unknown
    assert "\n" not in unknown


def test_the_docker_config_holds_one_login() -> None:
    config = signing.docker_config("r.azurecr.io", "00000000-0000-0000-0000-000000000000", "t")
    assert config == (
        '{"auths": {"r.azurecr.io": {"auth": '
        '"MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOnQ="}}}'
    )
