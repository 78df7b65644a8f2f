"""The payload codec: every payload ticketflow hands to Temporal, encrypted under the data key
of the workflow it belongs to.

The whole serialized payload (its metadata too: the JSON encoding, a type) is sealed with
AES-256-GCM; the result says only that it is encrypted and under which data key. The key id
makes each payload self-describing: decoding needs no workflow context. Payloads not encoded
here (recorded before encryption) pass through, so older histories still replay.
"""

from collections.abc import Sequence
from typing import Self

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from shared.crypto.aead import seal, unseal
from shared.crypto.key_store import SHARED_SCOPE, KeyStore

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """Encrypts under the key of `scope`: the SDK hands each payload's workflow id as context
    (a workflow's input, results, updates, queries, its activities' payloads); payloads of
    no workflow use the shared key."""

    def __init__(self, keys: KeyStore, scope: str = SHARED_SCOPE) -> None:
        self._keys = keys
        self._scope = scope

    def with_context(self, context: SerializationContext) -> Self:
        workflow_id = (
            context.workflow_id
            if isinstance(context, WorkflowSerializationContext | ActivitySerializationContext)
            else None
        )
        return type(self)(self._keys, workflow_id or SHARED_SCOPE)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if not payloads:
            return []
        key = await self._keys.for_scope(self._scope)
        return [
            Payload(
                metadata={"encoding": ENCODING, KEY_ID: key.id.encode()},
                data=seal(key.secret, payload.SerializeToString(), key.id.encode()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)
                continue
            key_id = payload.metadata[KEY_ID]
            key = await self._keys.by_id(key_id.decode())
            plain = Payload()
            plain.ParseFromString(unseal(key.secret, payload.data, key_id))
            decoded.append(plain)
        return decoded
