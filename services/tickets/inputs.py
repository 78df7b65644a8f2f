"""What the ticket service takes: a new ticket, and each command's arguments.

The HTTP API takes these as its request bodies; mail-in and the web build them too.
"""

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from shared.domain import external_refs, text
from shared.domain.enums import OnDuplicateRef, Priority, Rating, Source
from shared.domain.models import ExternalRef

# The input rules live in shared.domain.text, shared with notify and the admin API.
Text = text.Body
Handle = text.Handle
Email = text.Email


class Strict(text.InputModel):
    """A request body: unknown fields, control characters and invalid Unicode are refused."""


class RequesterIn(Strict):
    name: text.Name
    email: Email


def _ref_rule(kind: str, problem_of: Callable[[str], str | None]) -> BeforeValidator:
    # Before str's own validation, which would turn an `Unencodable` (input that held lone
    # surrogates) into a plain string whose escapes look harmless.
    def check(value: Any) -> Any:
        if isinstance(value, str):
            problem = problem_of(value)
            if problem is not None:
                raise PydanticCustomError(kind, "{problem}", {"problem": problem})
        return value

    return BeforeValidator(check)


class ExternalRefIn(Strict):
    """A record of another system: `system` names it (jira), `id` the record (OPS-12)."""

    system: Annotated[
        str,
        Field(pattern=external_refs.SYSTEM_PATTERN, examples=["jira"]),
        _ref_rule("external_ref_system", external_refs.system_problem),
    ]
    id: Annotated[
        str,
        Field(min_length=1, max_length=external_refs.ID_MAX, examples=["OPS-12"]),
        _ref_rule("external_ref_id", external_refs.id_problem),
    ]
    url: (
        Annotated[
            str,
            Field(
                max_length=external_refs.URL_MAX,
                examples=["https://jira.example.com/browse/OPS-12"],
            ),
            _ref_rule("external_ref_url", external_refs.url_problem),
        ]
        | None
    ) = None

    def ref(self) -> ExternalRef:
        return ExternalRef(system=self.system, id=self.id, url=self.url)


class TicketCreate(Strict):
    requester: RequesterIn
    # SUBJECT_MAX leaves room for the prefixes notices add within notify's subject limit.
    subject: text.Subject
    message: Text
    help_topic: Handle
    priority: Priority | None = None
    source: Source = Source.WEB
    # Records of other systems this ticket stands for; needs an agent's token (a reference
    # names a ticket, and this door is open to anyone).
    external_refs: list[ExternalRefIn] = Field(
        default_factory=list, max_length=external_refs.MAX_PER_TICKET
    )
    # When a reference is on a ticket already: return that ticket (200), reject (409), or
    # create a new ticket without the references others hold.
    on_duplicate_external_ref: OnDuplicateRef = OnDuplicateRef.RETURN

    @field_validator("external_refs")
    @classmethod
    def _each_once(cls, refs: list[ExternalRefIn]) -> list[ExternalRefIn]:
        seen: set[tuple[str, str]] = set()
        for ref in refs:
            if (ref.system, ref.id) in seen:
                raise ValueError(f"{ref.system}:{ref.id} is listed twice")
            seen.add((ref.system, ref.id))
        if external_refs.size(ref.ref() for ref in refs) > external_refs.MAX_BYTES:
            raise ValueError(f"may hold at most {external_refs.MAX_BYTES} bytes in all")
        return refs

    def refs(self) -> list[ExternalRef]:
        return [ref.ref() for ref in self.external_refs]


class CommandArgs(Strict):
    """An action's arguments: the API's request body, carried as is to the service, which
    turns it into the workflow's flat command (`command_fields`, with texts stored as
    references)."""

    def command_fields(self) -> dict[str, object]:
        return self.model_dump()


class NoArgs(CommandArgs):
    """close, reopen."""


class AssignBody(CommandArgs):
    agent: Handle | None = None
    team: Handle | None = None


class PriorityBody(CommandArgs):
    priority: Priority


class TransferBody(CommandArgs):
    department: Handle


class MessageBody(CommandArgs):
    message: Text


class ResolveBody(CommandArgs):
    resolution: Text | None = None


class LinkBody(ExternalRefIn, CommandArgs):
    """Link the ticket to a record of another system (or give a linked one a new url); the
    record to unlink."""

    def command_fields(self) -> dict[str, object]:
        return {"external_ref": self.ref()}


class RatingBody(CommandArgs):
    """The requester's rating of a closed ticket, with an optional comment."""

    rating: Rating
    comment: text.Comment | None = None


class PendingBody(CommandArgs):
    """Wait on the requester; remind the assignee at `remind_at` if nobody answered."""

    remind_at: AwareDatetime | None = None
