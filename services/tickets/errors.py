"""What the ticket service answers when it does not do what it was asked.

Entry points translate these: intake to HTTP statuses (services.intake.errors), mail-in to
SMTP replies and exit codes. A refusal of the state machine keeps its domain `Refusal`.
"""

from shared.domain.errors import NotFound
from shared.domain.lifecycle import Refusal

__all__ = ["Conflict", "NotApplied", "NotFound", "Rejected", "Unavailable"]


class Conflict(Exception):
    """The request contradicts the ticket as it is (or another request under way)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Rejected(Exception):
    """Refused for a reason the domain names: full, too fast, a key reused, a stale version,
    invalid, not linked."""

    def __init__(self, refusal: Refusal, reason: str) -> None:
        super().__init__(reason)
        self.refusal = refusal
        self.reason = reason


class Unavailable(Exception):
    """A dependency (Temporal, the database, the blob store) cannot be reached now."""

    def __init__(self, dependency: str) -> None:
        super().__init__(dependency)
        self.dependency = dependency


class NotApplied(Exception):
    """No worker applied a command in time; it never will (its deadline passed)."""
