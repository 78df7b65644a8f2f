"""Key-encryption keys (ENCRYPTION_KEYS) and the wrapping of data keys under them.

`ENCRYPTION_KEYS="k2:<base64>,k1:<base64>"`: each key 32 random bytes (`openssl rand -base64
32`) under an id of its own. The first wraps new data keys; the others are kept only to unwrap
data keys wrapped before a rotation, until `ticketflow keys rotate` has re-wrapped them.
"""

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.crypto.aead import KEY_BYTES, Unsealable, new_key, seal, unseal

_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class UnknownKeyEncryptionKey(LookupError):
    """A data key wrapped under a key-encryption key that ENCRYPTION_KEYS no longer holds."""


@dataclass(frozen=True)
class KeyRing:
    """Key-encryption keys by id, the active one first. Its repr shows the ids only."""

    keys: Mapping[str, bytes] = field(repr=False)
    active: str

    @classmethod
    def parse(cls, text: str) -> "KeyRing":
        """The ring `text` names; a ValueError that quotes no key material if it is malformed."""
        keys: dict[str, bytes] = {}
        for position, item in enumerate(filter(None, (p.strip() for p in text.split(","))), 1):
            key_id, colon, encoded = item.partition(":")
            key_id = key_id.strip()
            if not colon or not _KEY_ID.fullmatch(key_id):
                raise ValueError(
                    f"ENCRYPTION_KEYS entry {position} is not id:base64key (an id of up to 32 "
                    "letters, digits, dots, dashes or underscores)"
                )
            if key_id in keys:
                raise ValueError(f"ENCRYPTION_KEYS names key {key_id!r} twice")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except binascii.Error:
                raise ValueError(f"ENCRYPTION_KEYS key {key_id!r} is not base64") from None
            if len(key) != KEY_BYTES:
                raise ValueError(
                    f"ENCRYPTION_KEYS key {key_id!r} has {len(key)} bytes, not {KEY_BYTES} "
                    "(openssl rand -base64 32)"
                )
            keys[key_id] = key
        if not keys:
            raise ValueError("ENCRYPTION_KEYS names no key")
        return cls(keys=keys, active=next(iter(keys)))

    def wrap(self, data_key: bytes, associated: bytes) -> tuple[str, bytes]:
        """`data_key` sealed under the active key: (that key's id, the wrapped key)."""
        return self.active, seal(self.keys[self.active], data_key, associated)

    def unwrap(self, kek_id: str, wrapped: bytes, associated: bytes) -> bytes:
        if kek_id not in self.keys:
            raise UnknownKeyEncryptionKey(
                f"a data key is wrapped under key-encryption key {kek_id!r}, which "
                "ENCRYPTION_KEYS does not hold"
            )
        try:
            return unseal(self.keys[kek_id], wrapped, associated)
        except Unsealable as err:
            raise Unsealable(
                f"key-encryption key {kek_id!r} does not unwrap a data key it wrapped: the "
                "key under that id in ENCRYPTION_KEYS has changed"
            ) from err


def new_entry(kek_id: str) -> str:
    """An ENCRYPTION_KEYS entry for a new random key."""
    return f"{kek_id}:{base64.b64encode(new_key()).decode()}"
