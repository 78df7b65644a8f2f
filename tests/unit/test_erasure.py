"""The pure part of erasure: what an erased ticket and its stored events keep, how a person is
named without their address, and the RETENTION_DAYS setting."""

import pytest
from pydantic import ValidationError

from shared.domain.enums import ActorKind, EventKind, TicketStatus
from shared.domain.erasure import (
    ERASED,
    ERASED_PERSON,
    erased_actor,
    erased_feed_event,
    erased_state,
    erased_timeline_event,
    is_erased,
    requester_ref,
)
from shared.domain.events import events_of
from shared.domain.ids import erasure_workflow_id
from shared.domain.models import Actor
from shared.settings import Settings
from tests.builders import AGENT, REQUESTER, T0, ticket_state


def test_a_requester_is_named_by_a_keyed_hash_of_their_address_case_aside() -> None:
    ref = requester_ref("key-1", "Alice@Example.com ")
    assert ref == requester_ref("key-1", "alice@example.com")
    assert ref != requester_ref("key-2", "alice@example.com")
    assert ref != requester_ref("key-1", "bob@example.com")
    assert len(ref) == 32 and "alice" not in ref


def test_an_erased_state_keeps_no_requester_and_all_the_rest() -> None:
    state = ticket_state(TicketStatus.CLOSED)
    state.requester_messages_at = [T0]
    erased = erased_state(state)
    assert is_erased(erased) and not is_erased(state)
    assert erased.requester == ERASED_PERSON and erased.subject == ERASED
    assert erased.idempotency_key == "" and erased.requester_messages_at == []
    assert (erased.thread, erased.timeline, erased.seen) == ([], [], {})
    gone = {"requester", "subject", "idempotency_key", "requester_messages_at", "thread"}
    gone |= {"timeline", "seen", "links_sent_at"}
    assert erased.model_dump(exclude=gone) == state.model_dump(exclude=gone)
    assert state.requester.email == "alice@example.com"  # the original is untouched


def test_only_a_requester_actor_loses_its_name() -> None:
    assert erased_actor(REQUESTER.model_dump(mode="json"))["name"] == ERASED
    agent = AGENT.model_dump(mode="json")
    assert erased_actor(agent) == agent
    system = Actor.system().model_dump(mode="json")
    assert erased_actor(system) == system


def test_stored_events_lose_the_requester_and_the_subject() -> None:
    state = ticket_state()
    [created] = [event for event in events_of(state) if event.type.value == "ticket.created"]
    payload = created.model_dump(mode="json")
    payload["actor"] = REQUESTER.model_dump(mode="json")
    erased = erased_feed_event(payload)
    assert erased["actor"]["name"] == ERASED
    snapshot = erased["snapshot"]
    assert (snapshot["subject"], snapshot["requester_name"], snapshot["requester_email"]) == (
        ERASED,
        ERASED,
        ERASED,
    )
    assert "alice" not in str(erased).lower()
    assert {k: v for k, v in erased.items() if k not in ("actor", "snapshot")} == {
        k: v for k, v in payload.items() if k not in ("actor", "snapshot")
    }
    opened = state.timeline[0]
    assert opened.kind is EventKind.CREATED
    event = opened.model_dump(mode="json")
    assert event["actor"] == {"kind": ActorKind.REQUESTER.value, "name": "Alice", "handle": None}
    assert erased_timeline_event(event) == {**event, "actor": {**event["actor"], "name": ERASED}}
    by_agent = {**event, "actor": AGENT.model_dump(mode="json")}
    assert erased_timeline_event(by_agent) == by_agent


def test_an_erasure_is_named_by_its_own_id() -> None:
    assert erasure_workflow_id("0123abcd") == "erasure-0123abcd"


def test_retention_days_is_optional_and_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().retention_days is None
    monkeypatch.setenv("RETENTION_DAYS", "")
    assert Settings().retention_days is None
    monkeypatch.setenv("RETENTION_DAYS", "365")
    assert Settings().retention_days == 365
    for wrong in ("0", "-3", "a year"):
        monkeypatch.setenv("RETENTION_DAYS", wrong)
        with pytest.raises(ValidationError):
            Settings()
