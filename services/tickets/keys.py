"""What makes two requests the same: the creation key, and a request's fingerprint."""

import hashlib
import json
import uuid
from collections.abc import Sequence

from shared.db.attachments import StoredFile


def creation_key(email: str, idempotency_key: str | None) -> str:
    """Scope the client's key by requester, so two integrations' key "1" never meet."""
    raw = idempotency_key or uuid.uuid4().hex
    return hashlib.sha256(f"{email.lower()}\n{raw}".encode()).hexdigest()


def fingerprint(payload: object) -> str:
    """A hash of what a request asks for: the same key with another request is refused."""
    canonical = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def files_asked(files: Sequence[StoredFile]) -> dict[str, object]:
    """What a request's files add to its fingerprint: nothing when there are none, so a
    request without files keeps the fingerprint it always had."""
    if not files:
        return {}
    return {"attachments": [[f.name, f.content_type, f.blob.sha256] for f in files]}
