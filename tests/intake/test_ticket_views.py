"""The ticket list as the console's queues use it, on SQLite and PostgreSQL: several statuses
at once, unassigned tickets, teams and a member's teams, clocks due before a time, the sort
keys both ways, the total across pages, and each ticket's SLA at a glance. Parameters that
existed before answer as they did."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import TeamMemberRow, TeamRow, TicketRow
from tests.builders import bearer, create_agents, person, seed_ticket

TICKETS = "/api/v1/tickets"
NOW = datetime.now(UTC).replace(microsecond=0)


def clock(name: str, due: datetime, **more: Any) -> dict[str, Any]:
    return {"clock": name, "due_at": due.isoformat(), "outcome": "running", **more}


# number, status, priority, assignee, team, next due, created (minutes ago), clocks
TICKETS_SEEN = [
    ("800001", "open", "low", None, "network", NOW + timedelta(minutes=30), 50, []),
    ("800002", "open", "emergency", "john", "banking", NOW + timedelta(hours=3), 40, []),
    ("800003", "pending", "normal", "jane", "banking", None, 30, ["paused"]),
    ("800004", "open", "high", None, None, NOW + timedelta(minutes=5), 20, ["breached"]),
    ("800005", "resolved", "normal", "john", "network", None, 10, []),
    ("800006", "closed", "high", "jane", None, None, 5, []),
    ("1000007", "open", "normal", "john", "support", NOW + timedelta(hours=2), 1, []),
]


def insert(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            for team in ("network", "banking", "support"):
                session.add(TeamRow(handle=team, name=team.title(), lead=None))
            session.flush()
            session.add_all(
                [
                    TeamMemberRow(team="banking", agent="john"),
                    TeamMemberRow(team="support", agent="john"),
                    TeamMemberRow(team="network", agent="jane"),
                ]
            )
            for number, status, priority, assignee, team, due, ago, kinds in TICKETS_SEEN:
                created = NOW - timedelta(minutes=ago)
                clocks = [clock("resolution", NOW + timedelta(hours=8))]
                if "paused" in kinds:
                    clocks = [clock("resolution", NOW, paused_since=created.isoformat())]
                if "breached" in kinds:
                    breach = NOW - timedelta(minutes=25)
                    clocks.append(clock("first_response", breach, breached_at=breach.isoformat()))
                session.add(
                    TicketRow(
                        number=number,
                        version=1,
                        subject=f"Ticket {number}",
                        status=status,
                        priority=priority,
                        source="web",
                        requester_name="Ann",
                        requester_email=f"ann{number}@example.com",
                        help_topic="general",
                        department="support",
                        team=team,
                        assignee=assignee,
                        sla_plan="default",
                        first_response_due=None,
                        resolution_due=None,
                        next_due_at=due,
                        overdue="breached" in kinds,
                        escalation_level=0,
                        created_at=created,
                        # The oldest ticket was the last to change.
                        updated_at=NOW - timedelta(minutes=1 if number == "800001" else ago + 2),
                        state={
                            "clocks": clocks,
                            "next_due_at": due.isoformat() if due else None,
                        },
                    )
                )
    finally:
        engine.dispose()


@pytest.fixture
def agent(database_url: str) -> dict[str, str]:
    """An agent's headers; jane and john exist to be assigned and to be team members."""
    [token, *_] = create_agents(
        database_url, person("ann", "agent"), person("jane", "admin"), person("john", "agent")
    )
    insert(database_url)
    return bearer(token)


@pytest.fixture
def listed(client: TestClient, agent: dict[str, str]) -> Iterator[Any]:
    def numbers(**params: Any) -> list[str]:
        response = client.get(TICKETS, params=params, headers=agent)
        assert response.status_code == 200, response.text
        return [item["number"] for item in response.json()["items"]]

    yield numbers


def test_status_repeated_is_any_of_them_and_one_status_is_as_before(listed: Any) -> None:
    all_open = listed(status=["open", "pending"], sort="number")
    assert all_open == ["800001", "800002", "800003", "800004", "1000007"]
    assert listed(status="pending") == ["800003"]
    assert listed(status=["resolved", "closed"], sort="number") == ["800005", "800006"]


def test_unassigned_assignee_teams_and_a_members_teams(listed: Any) -> None:
    assert listed(unassigned="true", sort="number") == ["800001", "800004"]
    assert listed(unassigned="false", status="open", sort="number") == ["800002", "1000007"]
    assert listed(assignee="john", sort="number") == ["800002", "800005", "1000007"]
    assert listed(teams="network, support", sort="number") == ["800001", "800005", "1000007"]
    assert listed(team="banking", sort="number") == ["800002", "800003"]
    # john is in banking and support: "My teams'"
    assert listed(team_member="john", sort="number") == ["800002", "800003", "1000007"]
    assert listed(team_member="nobody") == []


def test_due_before_finds_running_clocks_due_by_then(listed: Any) -> None:
    hour = (NOW + timedelta(hours=1)).isoformat()
    # Paused (800003) and stopped clocks have no next due time; breached ones are left out of
    # it, so 800004's running resolution clock still counts.
    assert listed(due_before=hour, sort="due") == ["800004", "800001"]
    later = (NOW + timedelta(hours=2, minutes=30)).isoformat()
    assert listed(due_before=later, sort="due") == ["800004", "800001", "1000007"]


def test_each_sort_key_orders_both_ways_with_none_last(listed: Any) -> None:
    assert listed(sort="number") == [n for n, *_ in TICKETS_SEEN]
    assert listed(sort="number", order="desc") == [n for n, *_ in reversed(TICKETS_SEEN)]
    # Newest first by default, as before.
    assert listed() == [n for n, *_ in reversed(TICKETS_SEEN)]
    assert listed(sort="created", order="asc") == [n for n, *_ in TICKETS_SEEN]
    assert listed(sort="priority")[:3] == ["800002", "800006", "800004"]
    assert listed(sort="priority", order="asc")[0] == "800001"
    due = listed(sort="due")
    assert due[:4] == ["800004", "800001", "1000007", "800002"]
    assert set(due[4:]) == {"800003", "800005", "800006"}
    # Breached first (800004), then the soonest due; the other way round, breached last.
    latest_first = listed(sort="due", order="desc")
    assert latest_first[:3] == ["800002", "1000007", "800001"] and latest_first[-1] == "800004"
    assert listed(sort="updated")[:2] == ["800001", "1000007"]
    assert listed(sort="updated", order="asc")[-2:] == ["1000007", "800001"]


def test_the_total_counts_every_match_and_pages_do_not_overlap(
    client: TestClient, agent: dict[str, str]
) -> None:
    pages = [
        client.get(
            TICKETS, params={"per_page": 3, "page": page, "sort": "due"}, headers=agent
        ).json()
        for page in (1, 2, 3)
    ]
    assert [page["total"] for page in pages] == [7, 7, 7]
    numbers = [item["number"] for page in pages for item in page["items"]]
    assert sorted(numbers) == sorted(n for n, *_ in TICKETS_SEEN)


def test_each_ticket_says_when_its_sla_is_due_breached_or_paused(
    client: TestClient, agent: dict[str, str]
) -> None:
    items = {
        item["number"]: item
        for item in client.get(TICKETS, params={"sort": "number"}, headers=agent).json()["items"]
    }
    assert datetime.fromisoformat(items["800001"]["next_due_at"]) == NOW + timedelta(minutes=30)
    assert items["800001"]["breached_at"] is None and not items["800001"]["sla_paused"]
    assert items["800003"]["sla_paused"] and items["800003"]["next_due_at"] is None
    breached = datetime.fromisoformat(items["800004"]["breached_at"])
    assert breached == NOW - timedelta(minutes=25) and breached.utcoffset() == timedelta(0)
    assert items["800006"]["next_due_at"] is None and not items["800006"]["sla_paused"]


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "subject"},
        {"order": "sideways"},
        {"status": ["open", "later"]},
        {"due_before": "2026-01-01T10:00:00"},  # no zone: ambiguous
        {"unassigned": "perhaps"},
        {"teams": ",".join(f"t{i}" for i in range(51))},
        {"team_member": "a\x00"},
    ],
)
def test_bad_view_parameters_are_refused(
    client: TestClient, agent: dict[str, str], query: dict[str, Any]
) -> None:
    response = client.get(TICKETS, params=query, headers=agent)
    assert response.status_code == 422, response.text


def test_a_published_ticket_carries_its_next_due_time_into_the_list(
    client: TestClient, database_url: str
) -> None:
    [token] = create_agents(database_url, person("ann", "agent"))
    seed_ticket(database_url, "810001")
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        row = session.scalars(select(TicketRow).where(TicketRow.number == "810001")).one()
        due, state_due = row.next_due_at, row.state["next_due_at"]
    engine.dispose()
    assert due is not None and state_due is not None
    assert due.replace(tzinfo=UTC) == datetime.fromisoformat(state_due)
    soon = (datetime.fromisoformat(state_due) + timedelta(seconds=1)).isoformat()
    found = client.get(TICKETS, params={"due_before": soon}, headers=bearer(token)).json()
    assert [item["number"] for item in found["items"]] == ["810001"]


def test_the_openapi_document_describes_the_view_parameters(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    parameters = {p["name"]: p for p in schema["paths"][TICKETS]["get"]["parameters"]}
    for name in ("unassigned", "teams", "team_member", "due_before", "sort", "order"):
        assert parameters[name].get("description") or parameters[name]["schema"], name
    assert parameters["status"]["schema"]["type"] == "array"
    summary = schema["components"]["schemas"]["TicketSummary"]["properties"]
    assert {"next_due_at", "breached_at", "sla_paused"} <= set(summary)
    stream = schema["paths"]["/api/v1/events/stream"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert {"401", "403", "406", "422"} <= set(stream["responses"])
    assert "/api/v1/events/head" in schema["paths"]


def test_requester_is_an_exact_address_case_aside(listed: Any) -> None:
    assert listed(requester="ann800002@example.com") == ["800002"]
    assert listed(requester="ANN800002@Example.COM") == ["800002"]
    # Not a substring, and LIKE's wildcards are only themselves.
    assert listed(requester="ann80000") == []
    assert listed(requester="ann80000_@example.com") == []
    assert listed(requester="%") == []


def test_the_directory_names_agents_teams_and_departments_for_any_agent(
    client: TestClient, database_url: str
) -> None:
    [*_, viewer_token] = create_agents(
        database_url, person("jane", "admin"), person("john", "agent"), person("vera", "viewer")
    )
    insert(database_url)
    viewer = bearer(viewer_token)
    assert client.get("/api/v1/admin/agents", headers=viewer).status_code == 403
    response = client.get("/api/v1/directory", headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    agents = {a["handle"]: a for a in body["agents"]}
    assert agents["jane"]["assignable"] is True
    assert agents["jane"]["teams"] == ["network"]
    assert agents["vera"]["assignable"] is False
    assert "email" not in agents["jane"]
    assert {t["handle"] for t in body["teams"]} == {"network", "banking", "support"}
    assert client.get("/api/v1/directory").status_code == 401


def test_counts_of_named_filters_agree_with_the_list_in_one_call(
    client: TestClient, agent: dict[str, str], listed: Any
) -> None:
    hour = (NOW + timedelta(hours=1)).isoformat()
    filters: dict[str, dict[str, Any]] = {
        "open": {"status": ["open", "pending"]},
        "mine": {"status": ["open", "pending"], "assignee": "john"},
        "teams": {"status": ["open", "pending"], "team_member": "john"},
        "unassigned": {"status": ["open", "pending"], "unassigned": True},
        "breaching": {"status": ["open", "pending"], "due_before": hour},
        "closed": {"status": ["closed"]},
        "all": {},
    }
    answer = client.post("/api/v1/ticket-counts", json={"filters": filters}, headers=agent)
    assert answer.status_code == 200, answer.text
    counts = answer.json()["counts"]
    assert counts == {name: len(listed(**params)) for name, params in filters.items()}
    assert counts["mine"] == 2 and counts["all"] == len(TICKETS_SEEN)


def test_counts_refuse_bad_names_too_many_filters_and_no_credentials(
    client: TestClient, agent: dict[str, str]
) -> None:
    url = "/api/v1/ticket-counts"
    bad_name = client.post(url, json={"filters": {"Bad Name": {}}}, headers=agent)
    assert bad_name.status_code == 422
    many = {"filters": {f"f{i}": {} for i in range(21)}}
    assert client.post(url, json=many, headers=agent).status_code == 422
    unknown = client.post(url, json={"filters": {"x": {"colour": "red"}}}, headers=agent)
    assert unknown.status_code == 422
    assert client.post(url, json={"filters": {}}).status_code == 401
