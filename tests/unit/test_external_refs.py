"""External references in the state machine and their input rules: link, relink with a new
url, unlink, the cap of 20, what a reference may hold, and the search attribute's values."""

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from services.tickets.inputs import TicketCreate
from shared.domain import external_refs, lifecycle
from shared.domain.enums import Action, EventKind, TicketStatus
from shared.domain.external_refs import (
    MAX_PER_TICKET,
    SEARCH_ATTRIBUTE_BUDGET,
    id_problem,
    parse_label,
    search_labels,
    system_problem,
    url_problem,
)
from shared.domain.lifecycle import IllegalTransition, Refusal
from shared.domain.models import Actor, ExternalRef, TicketCommand, TicketInput, TicketState
from shared.temporal import search_attributes as sa
from tests.builders import AGENT, REQUESTER, T0, ticket_state
from tests.builders import ref as ref_to

LATER = T0 + timedelta(minutes=5)
JIRA = ExternalRef(system="jira", id="OPS-12", url="https://jira.example.com/browse/OPS-12")


def link(
    ref: ExternalRef | None, actor: Actor = AGENT, action: Action = Action.LINK
) -> TicketCommand:
    return TicketCommand(
        command_id=f"c-{action}-{ref}", action=action, actor=actor, external_ref=ref
    )


def bare_ticket(status: TicketStatus = TicketStatus.OPEN) -> TicketState:
    state: TicketState = ticket_state(status)
    state.external_refs = []
    return state


def refusal(state: TicketState, cmd: TicketCommand) -> IllegalTransition:
    with pytest.raises(IllegalTransition) as caught:
        lifecycle.apply(state, cmd, LATER)
    return caught.value


def test_link_adds_the_reference_and_records_it_on_the_timeline() -> None:
    state = bare_ticket()
    version = state.version
    lifecycle.apply(state, link(JIRA), LATER)
    assert state.external_refs == [JIRA]
    assert state.version == version + 1
    event = state.timeline[-1]
    assert event.kind is EventKind.LINKED and event.actor == AGENT
    assert event.detail == {"system": "jira", "id": "OPS-12", "url": JIRA.url}


def test_linking_a_held_reference_with_a_new_url_replaces_it_in_place() -> None:
    state = bare_ticket()
    other = ExternalRef(system="crm", id="C-1")
    for ref in (JIRA, other):
        lifecycle.apply(state, link(ref), LATER)
    moved = JIRA.model_copy(update={"url": "https://jira.example.com/browse/OPS-12?focused=1"})
    lifecycle.apply(state, link(moved), LATER)
    assert state.external_refs == [moved, other]


def test_linking_the_same_reference_again_is_a_conflict() -> None:
    state = bare_ticket()
    lifecycle.apply(state, link(JIRA), LATER)
    err = refusal(state, link(JIRA.model_copy()))
    assert err.refusal is Refusal.CONFLICT
    assert "already linked to jira:OPS-12" in err.reason


def test_a_ticket_holds_at_most_twenty_references() -> None:
    state = bare_ticket()
    for n in range(MAX_PER_TICKET):
        lifecycle.apply(state, link(ExternalRef(system="jira", id=f"OPS-{n}")), LATER)
    before = state.model_copy(deep=True)
    err = refusal(state, link(ExternalRef(system="jira", id="OPS-99")))
    assert err.refusal is Refusal.TICKET_FULL
    assert state == before
    # Replacing the url of one it holds is still fine when full.
    lifecycle.apply(
        state, link(ExternalRef(system="jira", id="OPS-3", url="https://j.example")), LATER
    )
    assert len(state.external_refs) == MAX_PER_TICKET


def test_a_tickets_references_hold_at_most_8_kib_in_all() -> None:
    state = bare_ticket()
    url = "https://docs.example.com/" + "p" * 1900
    for n in range(4):
        lifecycle.apply(state, link(ExternalRef(system="wiki", id=f"P{n}", url=url)), LATER)
    assert external_refs.size(state.external_refs) <= external_refs.MAX_BYTES
    err = refusal(state, link(ExternalRef(system="wiki", id="P4", url=url)))
    assert err.refusal is Refusal.TICKET_FULL and "8192 bytes" in err.reason
    # A shorter url for one it holds makes room.
    lifecycle.apply(state, link(ExternalRef(system="wiki", id="P0")), LATER)
    lifecycle.apply(state, link(ExternalRef(system="wiki", id="P4", url=url)), LATER)
    many = [ExternalRef(system="wiki", id=f"Q{n}", url=url) for n in range(10)]
    assert external_refs.size(external_refs.bounded(many)) <= external_refs.MAX_BYTES
    assert len(external_refs.bounded(many)) == 4


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        (None, "link needs an external reference"),
        (ExternalRef(system="Jira", id="OPS-1"), "system must be 1 to 32"),
        (ExternalRef(system="jira:x", id="OPS-1"), "system must be 1 to 32"),
        (ExternalRef(system="j" * 33, id="OPS-1"), "system must be 1 to 32"),
        (ExternalRef(system="jira", id=""), "id must be 1 to 200"),
        (ExternalRef(system="jira", id="x" * 201), "id must be 1 to 200"),
        (ExternalRef(system="jira", id="OPS\x00-1"), "control character U+0000"),
        (ExternalRef(system="jira", id="OPS\n1"), "single line"),
        (ExternalRef(system="jira", id="OPS\u200b1"), "must be printable: contains U+200B"),
        (ExternalRef(system="jira", id=" OPS-1"), "may not begin or end with a space"),
        (ExternalRef(system="jira", id="1", url="javascript:alert(1)"), "http:// or https://"),
        (ExternalRef(system="jira", id="1", url="https://"), "http:// or https://"),
        (ExternalRef(system="jira", id="1", url="https://a.example/x y"), "spaces"),
        (ExternalRef(system="jira", id="1", url="https://a.example/" + "x" * 2000), "2000"),
    ],
)
def test_an_invalid_reference_is_refused_as_invalid(ref: ExternalRef | None, reason: str) -> None:
    state = bare_ticket()
    err = refusal(state, link(ref))
    assert err.refusal is Refusal.INVALID
    assert reason in err.reason


def test_unlink_removes_the_reference() -> None:
    state = bare_ticket()
    lifecycle.apply(state, link(JIRA), LATER)
    lifecycle.apply(
        state, link(ExternalRef(system="jira", id="OPS-12"), action=Action.UNLINK), LATER
    )
    assert state.external_refs == []
    assert state.timeline[-1].kind is EventKind.UNLINKED
    assert state.timeline[-1].detail == {"system": "jira", "id": "OPS-12"}


def test_unlink_of_a_reference_the_ticket_does_not_hold_is_not_found() -> None:
    err = refusal(bare_ticket(), link(JIRA, action=Action.UNLINK))
    assert err.refusal is Refusal.NOT_LINKED


def test_a_closed_ticket_takes_links_and_stays_closed() -> None:
    state = ticket_state(TicketStatus.CLOSED)
    lifecycle.apply(state, link(JIRA), LATER)
    lifecycle.apply(state, link(ExternalRef(system="crm", id="C-9"), action=Action.UNLINK), LATER)
    assert state.external_refs == [JIRA]
    assert state.status is TicketStatus.CLOSED


def test_a_requester_may_not_link() -> None:
    with pytest.raises(IllegalTransition, match="a requester may not link"):
        lifecycle.check(bare_ticket(), link(JIRA, actor=REQUESTER))


def test_a_new_ticket_keeps_its_references_once_each_and_at_most_twenty() -> None:
    refs = [ExternalRef(system="jira", id=f"OPS-{n}") for n in range(30)]
    state = bare_ticket()
    data = TicketInput(
        **state.details() | {"external_refs": [refs[0], *refs]},
        message=ref_to("help"),
        sla_plan=state.sla_plan,
        idempotency_key="k",
    )
    opened, _ = lifecycle.open_ticket(data, T0)
    assert opened.external_refs == refs[:MAX_PER_TICKET]


def test_the_search_attribute_lists_references_as_system_colon_id() -> None:
    state = bare_ticket()
    assert dict(sa.values(state))[sa.EXTERNAL_REF] is None  # unset: old histories replay
    state.external_refs = [JIRA, ExternalRef(system="crm", id="C:1/2")]
    assert dict(sa.values(state))[sa.EXTERNAL_REF] == ["jira:OPS-12", "crm:C:1/2"]


def test_the_search_attribute_stays_under_temporals_value_limit() -> None:
    # Twenty of the longest ids, all non-ASCII (escaped six bytes a character in JSON).
    refs = [ExternalRef(system="s" * 32, id=f"{n:02d}" + "é" * 198) for n in range(20)]
    labels = search_labels(refs)
    assert 0 < len(labels) < 20
    assert labels == [ref.label for ref in refs[: len(labels)]]
    assert len(json.dumps(labels, separators=(",", ":"))) <= SEARCH_ATTRIBUTE_BUDGET < 2048
    short = [ExternalRef(system="jira", id=f"OPS-{n}") for n in range(20)]
    assert len(search_labels(short)) == 20


def test_labels_parse_at_the_first_colon() -> None:
    assert parse_label("jira:OPS-12") == ("jira", "OPS-12")
    assert parse_label("sap.crm:case:7/8") == ("sap.crm", "case:7/8")
    for bad in ("jira", "Jira:1", "jira:", ":1", "jira: 1"):
        with pytest.raises(ValueError, match="system:id"):
            parse_label(bad)


def test_rules_accept_what_other_systems_use() -> None:
    assert system_problem("servicenow") is None and system_problem("sap.crm_2-x") is None
    for ref_id in ("OPS-12", "INC0012345", "ä/b c:d#1", "x" * 200, "山田-1"):
        assert id_problem(ref_id) is None, ref_id
    for url in ("https://jira.example.com/browse/OPS-12", "http://10.0.0.1:8080/a?b=c#d"):
        assert url_problem(url) is None, url


BODY = {
    "requester": {"name": "Anna", "email": "anna@example.com"},
    "subject": "Printer jams",
    "message": "It jams.",
    "help_topic": "general",
}


def test_a_create_takes_twenty_distinct_references_at_most() -> None:
    refs = [{"system": "jira", "id": f"OPS-{n}"} for n in range(21)]
    with pytest.raises(ValidationError, match="at most 20"):
        TicketCreate.model_validate(BODY | {"external_refs": refs})
    with pytest.raises(ValidationError, match="jira:OPS-1 is listed twice"):
        TicketCreate.model_validate(BODY | {"external_refs": [refs[1], refs[1]]})
    url = "https://docs.example.com/" + "p" * 1900
    heavy = [{"system": "wiki", "id": f"P{n}", "url": url} for n in range(5)]
    with pytest.raises(ValidationError, match="at most 8192 bytes in all"):
        TicketCreate.model_validate(BODY | {"external_refs": heavy})
    body = TicketCreate.model_validate(BODY | {"external_refs": refs[:20]})
    assert [ref.label for ref in body.refs()] == [f"jira:OPS-{n}" for n in range(20)]
    assert external_refs.bounded(body.refs()) == body.refs()


def test_a_create_refuses_an_invalid_reference_with_the_reason() -> None:
    bad = {"system": "jira", "id": "OPS\x1b1", "url": "ftp://x.example"}
    with pytest.raises(ValidationError) as caught:
        TicketCreate.model_validate(BODY | {"external_refs": [bad]})
    errors = {err["loc"][-1]: err["msg"] for err in caught.value.errors()}
    assert "U+001B (escape)" in str(errors["id"])
    assert "http:// or https://" in str(errors["url"])
