"""ENCRYPTION_KEYS: parsed and checked at start-up, never shown; production requires it."""

import base64

import pytest
from pydantic import SecretStr, ValidationError

from shared.crypto.aead import Unsealable
from shared.crypto.key_ring import KeyRing, UnknownKeyEncryptionKey, new_entry
from shared.settings import Settings
from tests.builders import TEST_ENCRYPTION_KEYS

KEY = base64.b64encode(b"k" * 32).decode()


def test_the_first_key_is_active_and_the_others_only_unwrap() -> None:
    ring = KeyRing.parse(f"new:{KEY}, old:{base64.b64encode(b'o' * 32).decode()}")
    assert ring.active == "new" and list(ring.keys) == ["new", "old"]
    kek_id, wrapped = ring.wrap(b"d" * 32, b"bound")
    assert kek_id == "new"
    assert ring.unwrap(kek_id, wrapped, b"bound") == b"d" * 32


def test_a_wrapped_key_unwraps_only_with_its_binding_and_its_key() -> None:
    ring = KeyRing.parse(new_entry("a"))
    kek_id, wrapped = ring.wrap(b"d" * 32, b"key-1 ticket-100000")
    with pytest.raises(Unsealable):
        ring.unwrap(kek_id, wrapped, b"key-1 ticket-100001")
    with pytest.raises(Unsealable, match="'a' does not unwrap"):
        KeyRing.parse(new_entry("a")).unwrap(kek_id, wrapped, b"key-1 ticket-100000")
    with pytest.raises(UnknownKeyEncryptionKey, match="'a'"):
        KeyRing.parse(new_entry("b")).unwrap(kek_id, wrapped, b"key-1 ticket-100000")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "names no key"),
        (KEY, "entry 1 is not id:base64key"),
        (f"a:{KEY},bad id:{KEY}", "entry 2 is not id:base64key"),
        ("a:not base64!", "'a' is not base64"),
        (f"a:{base64.b64encode(b'short').decode()}", "'a' has 5 bytes, not 32"),
        (f"a:{KEY},a:{KEY}", "names key 'a' twice"),
    ],
)
def test_a_malformed_ring_is_refused_saying_why(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        KeyRing.parse(text)


def test_the_keys_never_show_in_reprs_or_errors() -> None:
    secret = base64.b64encode(b"S" * 32).decode()
    settings = Settings(encryption_keys=SecretStr(f"live:{secret}"))
    assert secret not in repr(settings) and secret not in repr(settings.key_ring)
    assert secret not in str(settings.model_dump())
    with pytest.raises(ValidationError) as refused:
        Settings(encryption_keys=SecretStr(f"live:{secret},live:{secret}"))
    assert secret not in str(refused.value)


def test_unset_or_empty_keys_mean_no_encryption_outside_production() -> None:
    assert Settings().key_ring is None
    assert Settings(encryption_keys=SecretStr(" ")).key_ring is None


def test_production_refuses_to_start_without_encryption_keys() -> None:
    strong = Settings(environment="test", secret_key="s" * 32, notify_token="n" * 32)
    with pytest.raises(ValidationError, match="ENCRYPTION_KEYS must be set in production"):
        Settings(**(strong.model_dump() | {"environment": "production"}))
    keys = SecretStr(TEST_ENCRYPTION_KEYS)
    production = strong.model_dump() | {"environment": "production", "encryption_keys": keys}
    assert Settings(**production).key_ring
