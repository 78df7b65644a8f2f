"""What makes two requests the same: the creation key, and a request's fingerprint."""

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from shared.db.attachments import StoredFile
from shared.domain.enums import Action

# What a command's fingerprint covers: these fields always (None where its action has none)…
FINGERPRINTED = ("agent", "team", "priority", "department", "message", "resolution", "remind_at")
# …and these only when set, so that commands stored before they existed keep their
# fingerprints (tests/unit/test_fingerprints.py pins them).
FINGERPRINTED_WHEN_SET = ("external_ref", "unverified", "rating", "comment")


def creation_key(email: str, idempotency_key: str | None) -> str:
    """Scope the client's key by requester, so two integrations' key "1" never meet."""
    raw = idempotency_key or uuid.uuid4().hex
    return hashlib.sha256(f"{email.lower()}\n{raw}".encode()).hexdigest()


def fingerprint(payload: object) -> str:
    """A hash of what a request asks for: the same key with another request is refused."""
    canonical = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def command_fingerprint(
    action: Action, fields: Mapping[str, object], files: Sequence[StoredFile] = ()
) -> str:
    """The fingerprint of a command: its action, its flat fields (texts, not their stored
    references) and its files."""
    asked: dict[str, object] = {"action": action.value}
    asked |= {name: fields.get(name) for name in FINGERPRINTED}
    asked |= {name: _plain(fields[name]) for name in FINGERPRINTED_WHEN_SET if fields.get(name)}
    return fingerprint(asked | files_asked(files))


def _plain(value: object) -> object:
    return value.model_dump() if isinstance(value, BaseModel) else value


def files_asked(files: Sequence[StoredFile]) -> dict[str, object]:
    """What a request's files add to its fingerprint: nothing when there are none, so a
    request without files keeps the fingerprint it always had."""
    if not files:
        return {}
    return {"attachments": [[f.name, f.content_type, f.blob.sha256] for f in files]}
