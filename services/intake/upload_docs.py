"""The multipart media type of the operations that take files, in the intake's OpenAPI
document. Their multipart twins (services/intake/attachments.py) are left out of the document;
this adds what they take to the JSON operation of the same path: the JSON body's fields as
form fields (an object field as a JSON part) or the whole body as one `payload` JSON part, and
`files`."""

from typing import Any

from services.intake.multipart import FILES, MULTIPART, PAYLOAD
from shared.domain.attachments import human_size
from shared.settings import Settings

# (path, method) -> the component of the JSON body.
UPLOAD_OPERATIONS = {
    ("/api/v1/tickets", "post"): "TicketCreate",
    ("/api/v1/tickets/{number}/replies", "post"): "MessageBody",
    ("/api/v1/tickets/{number}/notes", "post"): "MessageBody",
}
JSON_PART = {"contentType": "application/json"}


def document_uploads(schema: dict[str, Any], settings: Settings) -> None:
    """Add `multipart/form-data` beside `application/json` on each upload operation.
    Idempotent."""
    components: dict[str, Any] = schema.get("components", {}).get("schemas", {})
    for (path, method), model in UPLOAD_OPERATIONS.items():
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None or model not in components:
            continue
        name = f"{model}Upload"
        if name not in components:
            components[name] = _upload_schema(model, components, settings)
        encoding = {
            field: JSON_PART
            for field, prop in components[name]["properties"].items()
            if _is_object(prop, components)
        }
        content = operation["requestBody"]["content"]
        content.setdefault(
            MULTIPART,
            {"schema": {"$ref": f"#/components/schemas/{name}"}, "encoding": encoding},
        )


def _upload_schema(model: str, components: dict[str, Any], settings: Settings) -> dict[str, Any]:
    fields = components[model].get("properties", {})
    size = human_size(settings.max_attachment_bytes)
    limit = settings.max_attachments_per_message
    return {
        "title": f"{model}Upload",
        "type": "object",
        "description": (
            f"The fields of {model} as form fields (an object as a JSON part), or all of them "
            f"as one `{PAYLOAD}` JSON part; and up to {limit} `{FILES}`, each at most {size}."
        ),
        "properties": {
            **fields,
            PAYLOAD: {"$ref": f"#/components/schemas/{model}"},
            FILES: {
                "type": "array",
                "items": {"type": "string", "format": "binary"},
                "maxItems": limit,
            },
        },
        "additionalProperties": False,
    }


def _is_object(prop: dict[str, Any], components: dict[str, Any]) -> bool:
    ref = prop.get("$ref")
    if isinstance(ref, str):
        target = components.get(ref.rsplit("/", 1)[-1], {})
        return bool(target.get("type") == "object")
    return prop.get("type") == "object"
