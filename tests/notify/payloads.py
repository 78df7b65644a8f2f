"""Request bodies for the notify tests."""

import uuid
from typing import Any


def notification(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "idempotency_key": f"100001:{uuid.uuid4().hex[:8]}:ticket_received:requester",
        "ticket": "100001",
        "kind": "ticket_received",
        "recipient": {"name": "Alice Customer", "email": "alice@example.com"},
        "subject": "[#100001] We received your request",
        "body": "Thank you, we will get back to you.",
        "channel": "email",
    }
    body.update(overrides)
    return body
