"""The payloads anywhere in a history event, as Temporal stores them (encoded)."""

from typing import Any


def payloads_of(event: Any) -> list[Any]:
    """Every payload an event carries (inputs, results, update arguments and outcomes)."""
    found: list[Any] = []

    def walk(message: Any) -> None:
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            if hasattr(value, "ListFields"):
                items = [value]
            elif hasattr(value, "keys"):  # a map: its values
                items = list(value.values())
            else:  # a repeated field
                items = list(value)
            for item in items:
                if field.message_type.full_name == "temporal.api.common.v1.Payload":
                    found.append(item)
                elif hasattr(item, "ListFields"):
                    walk(item)

    walk(event)
    return found
