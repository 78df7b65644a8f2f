"""What the codec server does to a batch of payloads, as the remote codec protocol carries
them (a `Payloads` message as proto JSON, `{"payloads": [...]}` with base64 bytes).

Decoding takes each payload's key from its own metadata (the server has no workflow context);
one whose key was erased, or that no key here opens, becomes a placeholder the UI shows in its
place: an error would blank every payload of the UI's batch. Encoding, with no workflow to
name a key, uses the shared key (shared.temporal.codec)."""

import json
import logging

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads

from shared.crypto.aead import Unsealable
from shared.crypto.key_ring import UnknownKeyEncryptionKey
from shared.crypto.key_store import DataKeyErased, UnknownDataKey
from shared.temporal.codec import KEY_ID, EncryptionCodec

log = logging.getLogger(__name__)

ERASED = "[erased]"
UNREADABLE = "[unreadable]"


class NotPayloads(ValueError):
    """A body that is not a `Payloads` message as proto JSON."""


def parse(body: bytes) -> list[Payload]:
    # Fields of a newer API than ours are left out rather than refused.
    try:
        message = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError) as err:
        raise NotPayloads(f"the body is no Payloads message as proto JSON: {err}") from err
    return list(message.payloads)


def to_json(payloads: list[Payload]) -> str:
    """`{"payloads": [...]}`, the list there even when empty (proto JSON would leave it out)."""
    return json.dumps({"payloads": [json_format.MessageToDict(p) for p in payloads]})


def placeholder(text: str) -> Payload:
    """A JSON string payload, which the UI and CLI show as it is."""
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def decode(codec: EncryptionCodec, payloads: list[Payload]) -> list[Payload]:
    return [await _decoded(codec, payload) for payload in payloads]


async def _decoded(codec: EncryptionCodec, payload: Payload) -> Payload:
    try:
        [plain] = await codec.decode([payload])
    except DataKeyErased:
        return placeholder(ERASED)
    except (
        UnknownDataKey,
        UnknownKeyEncryptionKey,
        Unsealable,
        DecodeError,
        KeyError,
        UnicodeDecodeError,
    ) as err:
        # Another database's key, a key-encryption key ENCRYPTION_KEYS lacks, changed bytes,
        # no key id at all.
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        log.warning("a payload under data key %r does not decrypt: %s", key_id, err)
        return placeholder(UNREADABLE)
    return plain
