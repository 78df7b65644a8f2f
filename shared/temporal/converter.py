"""The project's data converter: every Temporal client, worker and replayer uses it."""

from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from shared.crypto.key_store import KeyStore
from shared.temporal.codec import EncryptionCodec


def data_converter(keys: KeyStore | None) -> DataConverter:
    """Pydantic models as JSON, encrypted under `keys` (None: unencrypted, outside production
    only); a failure's message and stack trace ride in an encrypted payload too."""
    return DataConverter(
        payload_converter_class=PydanticPayloadConverter,
        payload_codec=None if keys is None else EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
