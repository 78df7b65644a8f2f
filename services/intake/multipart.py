"""Multipart uploads: which requests may carry files, and reading such a request into the same
body model its JSON twin takes, plus the files, stored in the blob store.

A multipart body holds the JSON body's fields as form fields (an object field, such as a
ticket's `requester`, as a JSON part), or the whole JSON body as one `payload` part; and its
files as `files` parts. The answers match the JSON route's: a 422 lists the faults at
`["body", field]`."""

import json
import re
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import Scope

from services.body_limit import Allowance
from services.intake.errors import Refused, fault, invalid
from services.tickets.errors import Unavailable
from shared.blobs import BlobStore
from shared.db.attachments import StoredFile
from shared.db.threads import in_thread
from shared.domain.attachments import human_size, sanitize_filename
from shared.settings import Settings

MULTIPART = "multipart/form-data"
PAYLOAD = "payload"
FILES = "files"
# The routes that take files: a new ticket, a reply, a note (POST, multipart).
UPLOAD_PATH = re.compile(r"/api/v1/tickets(?:/[^/]+/(?:replies|notes))?")
# Form parts beyond the model's fields are refused anyway; these bound the parser's work.
MAX_FORM_FIELDS = 50
MAX_FORM_FILES = 1000

Model = TypeVar("Model", bound=BaseModel)


def is_multipart(scope: Scope) -> bool:
    content_type = Headers(scope=scope).get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == MULTIPART


def upload_allowance(settings: Settings) -> Allowance:
    """Multipart uploads to the upload routes may be as large as the attachment settings
    allow; every other body stays within MAX_BODY_BYTES."""

    def allowance(scope: Scope) -> int | None:
        if (
            scope.get("method") == "POST"
            and UPLOAD_PATH.fullmatch(scope.get("path", ""))
            and is_multipart(scope)
        ):
            return settings.max_upload_bytes
        return None

    return allowance


class MultipartRoute(APIRoute):
    """A route for multipart requests only. It stands before the JSON route of the same path
    and method, which takes every other request exactly as before; the OpenAPI document shows
    the two as one operation with two media types (services/intake/upload_docs.py)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.FULL and not is_multipart(scope):
            return Match.NONE, {}
        return match, child


async def read_upload(
    request: Request,
    model: type[Model],
    *,
    settings: Settings,
    blobs: BlobStore,
    json_fields: frozenset[str] = frozenset(),
) -> tuple[Model, tuple[StoredFile, ...]]:
    """The request's body as `model`, and its files, stored. Every check (the body, how many
    files, each file's size) comes before anything is stored."""
    form = await request.form(
        max_files=MAX_FORM_FILES,
        max_fields=MAX_FORM_FIELDS,
        max_part_size=settings.max_body_bytes,
    )
    try:
        body = await _body(form, model, settings, json_fields)
        uploads = _files(form, settings)
        return body, tuple([await _store(upload, blobs, settings) for upload in uploads])
    finally:
        await form.close()


async def _body(
    form: FormData, model: type[Model], settings: Settings, json_fields: frozenset[str]
) -> Model:
    data: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for name in dict.fromkeys(key for key, _ in form.multi_items() if key != FILES):
        values = form.getlist(name)
        if len(values) > 1:
            errors.append(fault("body", name, "given more than once", "value_error", input=None))
            continue
        value = values[0]
        if isinstance(value, UploadFile):
            if name != PAYLOAD:
                errors.append(
                    fault(
                        "body", name, "must be a form field, not a file", "value_error", input=None
                    )
                )
                continue
            value = await _small_text(value, settings.max_body_bytes)
        if name == PAYLOAD or name in json_fields:
            try:
                data[name] = json.loads(value)
            except json.JSONDecodeError as err:
                errors.append(
                    {
                        "type": "json_invalid",
                        "loc": ("body", name, err.pos),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": err.msg},
                    }
                )
            continue
        data[name] = value
    if errors:
        raise RequestValidationError(errors)
    if PAYLOAD in data and len(data) > 1:
        others = ", ".join(sorted(set(data) - {PAYLOAD}))
        message = f"send the body as the payload part or as form fields, not both ({others})"
        raise invalid("body", PAYLOAD, message, "value_error", input=None)
    try:
        return model.model_validate(data.get(PAYLOAD, data))
    except ValidationError as err:
        faults = err.errors(include_url=False)
        raise RequestValidationError(
            [{**fault, "loc": ("body", *fault["loc"])} for fault in faults]
        ) from err


def _files(form: FormData, settings: Settings) -> list[UploadFile]:
    files = form.getlist(FILES)
    uploads = [f for f in files if isinstance(f, UploadFile)]
    if len(uploads) < len(files):
        message = "files must be file parts (with a filename)"
        raise invalid("body", FILES, message, "value_error", input=None)
    limit = settings.max_attachments_per_message
    if len(uploads) > limit:
        message = f"at most {limit} files may be attached to one message, not {len(uploads)}"
        raise invalid("body", FILES, message, "too_long", input=None)
    for upload in uploads:
        if upload.size is None or upload.size > settings.max_attachment_bytes:
            raise Refused(
                413,
                f"file {sanitize_filename(upload.filename)!r} is larger than "
                f"{human_size(settings.max_attachment_bytes)}, the most one file may have",
            )
    return uploads


async def _store(upload: UploadFile, blobs: BlobStore, settings: Settings) -> StoredFile:
    await upload.seek(0)
    try:
        blob = await in_thread(blobs.put, upload.file, max_bytes=settings.max_attachment_bytes)
    except OSError as err:  # full disk, lost mount, permissions: nothing was stored
        raise Unavailable("blob store") from err
    return StoredFile.of(blob, upload.filename, upload.content_type)


async def _small_text(upload: UploadFile, limit: int) -> str:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise Refused(413, f"the {PAYLOAD} part is over {limit} bytes")
    return data.decode("utf-8", "replace")
