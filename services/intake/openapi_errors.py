"""The error answers each operation of the intake's OpenAPI document states, read from its
route: one place, so that the document and the answers agree."""

from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute

from services.intake.auth import SAFE_METHODS, route_requirement
from services.intake.errors import ErrorBody

ERRORS = {
    400: "The body is not UTF-8 text (JSON that is not well formed is answered 422)",
    401: "Missing or invalid credentials",
    403: "The caller's role may not do this, or the API key lacks the scope the answer names",
    412: "If-Match named a version of the ticket other than its current one: read it again",
    404: "A record the request names does not exist",
    409: "The request conflicts with the record's state, or with a concurrent change",
    413: "The body is larger than MAX_BODY_BYTES (an upload: than the attachment limits allow), "
    "or would make the ticket hold too much",
    429: "The requester sent too many messages in the last minute: retry shortly",
    503: "A dependency is down; a command answered 503 was not applied and never will be",
}
# A reused Idempotency-Key is refused 422 with `ErrorBody`, beside FastAPI's list of faults.
INVALID = "Invalid input, or an Idempotency-Key used before for another request"


def document_errors(schema: dict[str, Any], routes: list[BaseRoute]) -> None:
    """Add 400, 401, 403, 404, 409, 412, 413, 429 and 503 (with `ErrorBody`) where they can
    happen, read from each route: 400 (not UTF-8) and 413 (too large) if it takes a body; 401
    and 403 if it needs credentials (a role, or an API key's scopes, may not allow it); 404 if
    its path names a record, or if anyone may write through it (a ticket names its help
    topic); 409 if it writes; 412 if it takes If-Match. Answers a route declares itself are kept
    (the reports declare 403: a viewer may see some of them only); 429 on replies (a requester
    writing too fast); 503 everywhere (a dependency is down; a command so answered was not
    applied). A 422 of a route that takes an Idempotency-Key may also be an `ErrorBody` (the key
    was used for another request). Idempotent."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorBody", ErrorBody.model_json_schema())
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    body = {"application/json": {"schema": error_body}}
    faults = {"$ref": "#/components/schemas/HTTPValidationError"}
    for route in iter_route_contexts(routes):
        path = route.path_format or ""
        operations = schema.get("paths", {}).get(path, {})
        needs = route_requirement(route)
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            writes = method not in SAFE_METHODS
            takes_body = "requestBody" in operation
            parameters = operation.get("parameters", [])
            if_match = any(parameter["name"] == "If-Match" for parameter in parameters)
            statuses = {
                400: takes_body,
                401: not needs.public,
                403: not needs.public,
                404: "{" in path or (writes and needs.public),
                409: writes,
                412: if_match,
                413: takes_body,
                429: path.endswith("/replies"),
                503: True,
            }
            for status, applies in statuses.items():
                if applies:
                    answer: dict[str, Any] = {"description": ERRORS[status], "content": body}
                    if status == 401:
                        answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
                    operation["responses"].setdefault(str(status), answer)
            if any(parameter["name"] == "Idempotency-Key" for parameter in parameters):
                invalid = operation["responses"].setdefault("422", {"description": INVALID})
                if invalid["description"] == "Validation Error":  # FastAPI's own
                    invalid["description"] = INVALID
                either = {"anyOf": [faults, error_body]}
                invalid["content"] = {"application/json": {"schema": either}}
