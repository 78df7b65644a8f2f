"""Reading the portal's posted forms: text fields, chosen files, per-form keys, and the API's
faults put beside the fields they name."""

import re
import secrets

from starlette.datastructures import FormData, UploadFile

from services.web.api import Fault, Upload

_FORM_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


def files(form: FormData, name: str = "files") -> list[Upload]:
    """The files chosen: a file input left empty still posts one nameless, empty part."""
    return [
        Upload(part.filename, part.content_type or "application/octet-stream", part.file)
        for part in form.getlist(name)
        if isinstance(part, UploadFile) and part.filename
    ]


def new_form_key() -> str:
    return secrets.token_urlsafe(24)


def form_key(form: FormData) -> str:
    """The form's own key (a hidden field), or a new one if it has none that could be."""
    key = text(form, "form_key")
    return key if _FORM_KEY.fullmatch(key) else new_form_key()


def beside_fields(faults: list[Fault], fields: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Each fault under the form field it concerns (`fields`: the API's path -> the form's
    name); those that concern none are listed on their own."""
    placed: dict[str, str] = {}
    others: list[str] = []
    for fault in faults:
        name = fields.get(fault.field) or fields.get(fault.field.split(".", 1)[0])
        if name is None:
            others.append(f"{fault.field}: {fault.message}" if fault.field else fault.message)
        else:
            placed.setdefault(name, _readable(fault.message))
    return placed, others


def _readable(message: str) -> str:
    message = message.removeprefix("Value error, ").strip()
    return message[:1].upper() + message[1:] if message else "Is not valid"
