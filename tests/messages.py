"""Message references for tests that drive workflows or the state machine directly."""

import hashlib

from shared.domain.models import MessageRef


def ref(text: str) -> MessageRef:
    """A reference like the intake's (the body itself is not stored by these tests)."""
    return MessageRef(id=hashlib.sha256(text.encode()).hexdigest()[:40], size=len(text.encode()))
