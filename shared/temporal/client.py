"""Connecting to Temporal with the project's data converter, and registering search attributes."""

import logging
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from shared.crypto.key_store import key_store_for
from shared.settings import Settings
from shared.temporal.converter import data_converter
from shared.temporal.names import (
    BOOL_ATTRIBUTES,
    DATETIME_ATTRIBUTES,
    KEYWORD_ATTRIBUTES,
    KEYWORD_LIST_ATTRIBUTES,
)
from shared.temporal.runtime import runtime_for
from shared.temporal.tracing import CommandTracing
from shared.tracing.process import tracing_enabled

log = logging.getLogger(__name__)


async def connect(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """`runtime`: the worker's, which serves the SDK's metrics (else as LOG_FORMAT asks:
    shared/temporal/runtime.py)."""
    tls: TLSConfig | bool = settings.temporal_tls or bool(settings.temporal_api_key)
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        with (
            open(settings.temporal_tls_cert, "rb") as cert,
            open(settings.temporal_tls_key, "rb") as key,
        ):
            tls = TLSConfig(client_cert=cert.read(), client_private_key=key.read())
    keys = key_store_for(settings)
    if keys is None:
        log.warning("ENCRYPTION_KEYS is unset: Temporal payloads are stored unencrypted")
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls,
        data_converter=data_converter(keys),
        lazy=lazy,
        runtime=runtime or runtime_for(settings),
        # Workers built on this client trace too (README "Traces"); none without an endpoint.
        interceptors=[CommandTracing()] if tracing_enabled(settings) else [],
    )


def unreachable(err: BaseException) -> bool:
    """Whether `err` is a lazy client's failure to connect: the SDK raises it as a
    RuntimeError, not an RPCError, on each call until the server answers."""
    return isinstance(err, RuntimeError) and str(err).startswith("Failed client connect")


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Register the ticket search attributes; a no-op for those that exist already."""
    wanted: dict[str, IndexedValueType.ValueType] = {
        name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in KEYWORD_ATTRIBUTES
    }
    wanted.update({name: IndexedValueType.INDEXED_VALUE_TYPE_BOOL for name in BOOL_ATTRIBUTES})
    wanted.update(
        {name: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME for name in DATETIME_ATTRIBUTES}
    )
    wanted.update(
        {name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST for name in KEYWORD_LIST_ATTRIBUTES}
    )
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(search_attributes=wanted, namespace=namespace),
        timeout=timedelta(seconds=10),
    )
