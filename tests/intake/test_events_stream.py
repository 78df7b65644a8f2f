"""The change feed live (`GET /api/v1/events/stream`), on SQLite and PostgreSQL, served by a
real uvicorn (a stream never ends, so an in-process client that waits for the whole answer
cannot read one): events arrive as tickets are published, Last-Event-ID and a page's cursor
resume without a gap or a repeat, one watch serves every stream, and a stream ends when its
client goes."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.intake.app import create_app
from services.intake.events_stream import FeedWatch
from services.processes import free_port
from shared.settings import Settings
from tests.builders import bearer, create_agents, person, seed_ticket

STREAM = "/api/v1/events/stream"
SSE = {"Accept": "text/event-stream"}


@dataclass
class Frame:
    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comment: bool = False

    def json(self) -> Any:
        return json.loads("\n".join(self.data))


@dataclass
class Intake:
    url: str
    app: FastAPI
    tokens: dict[str, str]
    database_url: str

    @property
    def watch(self) -> FeedWatch:
        watch: FeedWatch = self.app.state.feed_watch
        return watch


@contextmanager
def served(database_url: str) -> Iterator[Intake]:
    """The intake under uvicorn in a thread, with an admin, an agent and a viewer."""
    roles = ("admin", "agent", "viewer")
    tokens = dict(
        zip(roles, create_agents(database_url, *(person(r, r) for r in roles)), strict=True)
    )
    port = free_port()
    app = create_app(Settings(database_url=database_url, environment="test"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "intake did not start"
        time.sleep(0.02)
    app.state.feed_watch.heartbeat_seconds = 0.5
    try:
        yield Intake(f"http://127.0.0.1:{port}", app, tokens, database_url)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def intake(database_url: str) -> Iterator[Intake]:
    with served(database_url) as running:
        yield running


class Reader:
    """One open stream, read frame by frame (each read waits at most `timeout` seconds)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def frame(self) -> Frame:
        frame = Frame()
        for line in self._lines:
            if line == "":
                return frame
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                frame.comment = True
            elif name == "id":
                frame.id = value
            elif name == "event":
                frame.event = value
            elif name == "data":
                frame.data.append(value)
        raise AssertionError("the stream ended")

    def events(self, count: int) -> list[Frame]:
        """The next `count` events (heartbeats and bare ids skipped)."""
        found: list[Frame] = []
        while len(found) < count:
            frame = self.frame()
            if frame.data:
                found.append(frame)
        return found


@contextmanager
def stream(
    intake: Intake,
    role: str = "agent",
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Iterator[Reader]:
    with (
        httpx.Client(base_url=intake.url, timeout=timeout) as client,
        client.stream(
            "GET",
            STREAM,
            headers={**SSE, **bearer(intake.tokens[role]), **(headers or {})},
            params=params,
        ) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Reader(response)


def eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_events_arrive_as_tickets_are_published(intake: Intake) -> None:
    with stream(intake) as reader:
        start = reader.frame()
        assert start.id and not start.data  # where a reconnect would resume
        seed_ticket(intake.database_url, "700001", subject="Streamed <b>live</b>")
        [created] = reader.events(1)
    assert created.event == "ticket.created"
    event = created.json()
    assert event["ticket"] == "700001" and event["snapshot"]["subject"] == "Streamed <b>live</b>"
    assert event["message"]["body"] == "It started smoking at 9:00."
    assert created.id and created.id != start.id


def test_last_event_id_resumes_after_the_last_event_seen(intake: Intake) -> None:
    with stream(intake) as reader:
        reader.frame()
        seed_ticket(intake.database_url, "700011")
        [first] = reader.events(1)
    # While no one listens: two more tickets, one with a response (two events).
    seed_ticket(intake.database_url, "700012")
    seed_ticket(intake.database_url, "700013", responses=("On it.",))
    with stream(intake, headers={"Last-Event-ID": first.id or ""}) as reader:
        assert reader.frame().id == first.id
        missed = reader.events(3)
    assert [(f.json()["ticket"], f.event) for f in missed] == [
        ("700012", "ticket.created"),
        ("700013", "ticket.created"),
        ("700013", "ticket.responded"),
    ]
    assert len({f.id for f in [first, *missed]}) == 4


def test_a_page_cursor_of_the_feed_starts_the_stream_after_it(intake: Intake) -> None:
    seed_ticket(intake.database_url, "700021")
    with httpx.Client(base_url=intake.url, headers=bearer(intake.tokens["admin"])) as client:
        # On PostgreSQL an event shows once every older transaction of the server has ended
        # (another test's, say): wait for it.
        deadline = time.monotonic() + 10
        page = client.get("/api/v1/events").json()
        while not page["events"] and time.monotonic() < deadline:
            time.sleep(0.1)
            page = client.get("/api/v1/events").json()
        head = client.get("/api/v1/events/head").json()["cursor"]
    assert [e["ticket"] for e in page["events"]] == ["700021"]
    assert head == page["next_cursor"]  # nothing after the page's last event yet
    seed_ticket(intake.database_url, "700022")
    with stream(intake, params={"after": page["next_cursor"]}) as reader:
        [next_one] = reader.events(1)
    assert next_one.json()["ticket"] == "700022"


def test_types_leave_other_events_out_and_move_the_cursor_past_them(intake: Intake) -> None:
    with stream(intake, "viewer", params={"types": "ticket.responded"}) as reader:
        reader.frame()
        seed_ticket(intake.database_url, "700031")  # created only: left out
        seed_ticket(intake.database_url, "700032", responses=("Hello",))
        [responded] = reader.events(1)
        assert responded.event == "ticket.responded"
        assert responded.json()["ticket"] == "700032"
        beat = reader.frame()  # nothing more: a heartbeat, naming where the stream is
    assert beat.comment and beat.id == responded.id


def test_one_watch_serves_every_stream_and_a_stream_ends_when_its_client_goes(
    intake: Intake,
) -> None:
    readers: list[Frame] = []
    with stream(intake) as one, stream(intake, "viewer") as two, stream(intake, "admin") as three:
        eventually(lambda: intake.watch.streams == 3)
        for reader in (one, two, three):
            reader.frame()
        seed_ticket(intake.database_url, "700041")
        for reader in (one, two, three):
            readers += reader.events(1)
    assert {f.id for f in readers} == {readers[0].id}
    eventually(lambda: intake.watch.streams == 0)


def test_a_committed_event_reaches_the_stream_well_before_the_fallback_look(
    intake: Intake,
) -> None:
    """On PostgreSQL the database's NOTIFY wakes the watch (on its own it looks only every
    5 s); on SQLite the watch looks every quarter of a second. The median of three is held to
    half the fallback: a loaded machine (other tests' transactions hold PostgreSQL's feed
    back until they end) may delay one; `bench.console` measures the latency itself."""
    with stream(intake) as reader:
        reader.frame()
        eventually(lambda: intake.watch.streams == 1)
        time.sleep(0.3)  # the listener is in place
        took = []
        for number in ("700051", "700052", "700053"):
            seed_ticket(intake.database_url, number)
            committed = time.monotonic()
            reader.events(1)
            took.append(time.monotonic() - committed)
    assert sorted(took)[1] < 2.5, took


@pytest.mark.parametrize(
    ("headers", "params", "status", "where"),
    [
        ({}, {}, 406, None),
        (SSE | {"Last-Event-ID": "not a cursor"}, {}, 422, ["header", "Last-Event-ID"]),
        (SSE, {"after": "%%%"}, 422, ["query", "after"]),
        (SSE, {"types": "ticket.nonsense"}, 422, ["query", "types"]),
    ],
)
def test_bad_stream_requests_are_refused_before_streaming(
    client_for: Any,
    database_url: str,
    headers: dict[str, str],
    params: dict[str, str],
    status: int,
    where: list[str] | None,
) -> None:
    client: TestClient = client_for()
    [token] = create_agents(database_url, person("ann", "agent"))
    response = client.get(STREAM, headers=headers | bearer(token), params=params)
    assert response.status_code == status, response.text
    if where is not None:
        assert response.json()["detail"][0]["loc"] == where


def test_the_stream_needs_an_agents_credentials(client_for: Any) -> None:
    client: TestClient = client_for()
    assert client.get(STREAM, headers=SSE).status_code == 401
    assert client.get("/api/v1/events/head").status_code == 401
