"""AES-256-GCM with a random 96-bit nonce, sealed as nonce + ciphertext + tag."""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class Unsealable(ValueError):
    """Sealed bytes that do not open under this key and associated data: another key, or
    bytes changed since they were sealed."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    # Random 96-bit nonces are safe for up to 2^32 messages under one key (NIST SP 800-38D);
    # a data key seals one ticket's payloads.
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def unseal(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
    except InvalidTag as err:
        raise Unsealable("sealed bytes failed authentication") from err
