"""Webhooks end to end, on the real stack (SQLite and PostgreSQL, one stack each for the
module) and a receiver in this process on a free port.

A ticket's events reach a subscriber in order, signed so that the `standardwebhooks` library
verifies them; a receiver that answers 503 or refuses connections for a while gets every
event afterwards; a ticket whose receiver fails holds up only itself; notify killed in the
middle of deliveries and restarted loses nothing and never sends an event under two ids;
replays; an endpoint that never answers is disabled, an alert, and its admins are mailed.
"""

import signal
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from services.devstack import Stack
from tests.e2e.conftest import JANE, eventually, notifications, open_ticket, started_stack
from tests.processes import Proc, family, wait_gone
from tests.webhook_receiver import Received, Receiver

pytestmark = pytest.mark.e2e

HOOKS = "/api/v1/admin/webhooks"
SETTINGS = {
    "WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
    "WEBHOOK_BACKOFF_MAX_SECONDS": "1",
    "WEBHOOK_TIMEOUT_SECONDS": "1",  # a claim's lease: 8 s
    "WEBHOOK_GIVE_UP_SECONDS": "12",
}


class Hooked:
    """The stack, the receiver, the main subscription's secret, and every process seen."""

    def __init__(self, stack: Stack, receiver: Receiver, secret: str) -> None:
        self.stack, self.receiver, self.secret = stack, receiver, secret
        self.seen: set[Proc] = set()
        self.look()

    def look(self) -> None:
        for proc in self.stack.procs.values():
            self.seen |= family(proc.pid)

    def of(self, number: str) -> list[Received]:
        return [r for r in self.receiver.requests() if r.event["ticket"] == number]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hooked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hooked]:
    receiver = Receiver()
    receiver.start()
    var: Path = tmp_path_factory.mktemp(f"stack-webhooks-{request.param}")
    try:
        with started_stack(request.param, var, extra_env=SETTINGS) as stack:
            with httpx.Client(base_url=stack.intake_url, headers=JANE, timeout=30) as api:
                dead = api.post(HOOKS, json={"handle": "dead", "url": "http://127.0.0.1:9/x"})
                assert dead.status_code == 201, dead.text
                body = {"handle": "main", "url": receiver.url, "include_internal": True}
                main = api.post(HOOKS, json=body)
                assert main.status_code == 201, main.text
            hooked = Hooked(stack, receiver, main.json()["secret"])
            yield hooked
            hooked.look()
        assert not wait_gone(hooked.seen, 15), "a process of the stack outlived it"
    finally:
        receiver.stop()


@pytest.fixture
def api(hooked: Hooked) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hooked.stack.intake_url, headers=JANE, timeout=30) as client:
        yield client


def post(api: httpx.Client, number: str, action: str, **body: Any) -> None:
    response = api.post(f"/api/v1/tickets/{number}/{action}", json=body or None)
    assert response.status_code == 200, response.text


def arrived(hooked: Hooked, number: str, count: int, timeout: float = 30) -> list[Received]:
    """The first receipt of each of the ticket's events, once `count` have arrived."""

    def first_receipts() -> list[Received] | None:
        firsts: dict[str, Received] = {}
        for got in hooked.of(number):
            firsts.setdefault(got.event["id"], got)
        return list(firsts.values()) if len(firsts) >= count else None

    return eventually(first_receipts, timeout=timeout, what=f"{count} events of {number}")


def one_id_per_event(received: list[Received]) -> None:
    ids: dict[str, set[str]] = defaultdict(set)
    for got in received:
        ids[got.event["id"]].add(got.headers["webhook-id"])
    assert all(len(found) == 1 for found in ids.values()), ids


def test_a_ticket_s_events_arrive_in_order_signed(hooked: Hooked, api: httpx.Client) -> None:
    number = open_ticket(api, "Webhook story")["number"]
    post(api, number, "replies", message="We are on it.")
    post(api, number, "notes", message="internal: LB down")
    post(api, number, "resolve", resolution="LB replaced")
    got = arrived(hooked, number, 5)
    assert [r.event["type"] for r in got] == [
        "ticket.created",
        "ticket.assigned",
        "ticket.responded",
        "ticket.noted",
        "ticket.resolved",
    ]
    assert [r.event["seq"] for r in got] == [1, 2, 3, 4, 5]
    for r in got:
        assert Webhook(hooked.secret).verify(r.body, r.headers) == r.event
        assert r.headers["webhook-id"].endswith(f"_{r.event['id']}")
    assert got[2].event["message"]["body"] == "We are on it."
    assert got[3].event["internal"] is True  # "main" asked for internal notes
    one_id_per_event(hooked.of(number))


def test_every_event_arrives_after_the_receiver_was_down(hooked: Hooked, api: httpx.Client) -> None:
    receiver = hooked.receiver
    receiver.answer = lambda _: 503
    number = open_ticket(api, "Receiver outage")["number"]
    eventually(lambda: hooked.of(number), what="a first (refused) attempt")
    receiver.stop()  # now connections are refused
    post(api, number, "replies", message="still there?")
    post(api, number, "notes", message="while the receiver is down")
    eventually(
        lambda: any(
            a["error"] and "Connect" in a["error"]
            for d in api.get(f"{HOOKS}/main/deliveries").json()["items"]
            if d["ticket"] == number
            for a in d["attempts"]
        ),
        what="an attempt refused at connection",
    )
    receiver.answer = lambda _: 200
    receiver.start()
    got = arrived(hooked, number, 4)
    assert [r.event["seq"] for r in got] == [1, 2, 3, 4]
    one_id_per_event(hooked.of(number))
    log = api.get(f"{HOOKS}/main/deliveries", params={"limit": 200}).json()["items"]
    first = next(d for d in log if d["event_id"] == f"{number}-1")
    assert first["status"] == "delivered" and first["last_status_code"] == 200
    codes = [a["status_code"] for a in first["attempts"]]
    assert codes[0] == 503 and codes[-1] == 200 and None in codes  # 503, refused, then 200
    assert all(a["latency_ms"] is not None for a in first["attempts"])


def test_a_ticket_whose_events_fail_holds_up_only_itself(hooked: Hooked, api: httpx.Client) -> None:
    failing = open_ticket(api, "Receiver chokes on this one")["number"]
    hooked.receiver.answer = lambda r: 500 if r.event["ticket"] == failing else 200
    try:
        post(api, failing, "replies", message="one")
        other = open_ticket(api, "Receiver takes this one")["number"]
        post(api, other, "replies", message="two")
        assert [r.event["seq"] for r in arrived(hooked, other, 3)] == [1, 2, 3]
        assert {r.event["seq"] for r in hooked.of(failing)} == {1}  # retried, never passed
    finally:
        hooked.receiver.answer = lambda _: 200
    assert [r.event["seq"] for r in arrived(hooked, failing, 3)] == [1, 2, 3]


def test_notify_killed_mid_delivery_loses_nothing_and_keeps_each_id(
    hooked: Hooked, api: httpx.Client
) -> None:
    hooked.receiver.delay = 0.4  # deliveries in flight when notify dies
    tickets = [open_ticket(api, f"Crash {i}")["number"] for i in range(3)]
    for number in tickets:
        post(api, number, "replies", message="ack")
        post(api, number, "notes", message="note")
    eventually(lambda: sum(len(hooked.of(n)) for n in tickets) >= 2, what="deliveries under way")
    hooked.stack.kill("notify", signal.SIGKILL)
    hooked.receiver.delay = 0
    hooked.stack.start_notify()
    hooked.look()
    for number in tickets:
        got = arrived(hooked, number, 4, timeout=40)  # a lost claim waits for its lease
        assert [r.event["seq"] for r in got] == [1, 2, 3, 4]
        one_id_per_event(hooked.of(number))
        for r in got:
            Webhook(hooked.secret).verify(r.body, r.headers)


def test_a_replay_sends_the_events_again_as_new_messages(hooked: Hooked, api: httpx.Client) -> None:
    number = open_ticket(api, "Replay me")["number"]
    first = arrived(hooked, number, 2)
    answer = api.post(f"{HOOKS}/main/replay", json={"event_ids": [f"{number}-1"]})
    assert answer.status_code == 202 and answer.json()["queued"] == [f"{number}-1"]
    again = eventually(
        lambda: [r for r in hooked.of(number) if "_r" in r.headers["webhook-id"]],
        what="the replayed event",
    )
    assert again[0].event["id"] == f"{number}-1"
    assert again[0].headers["webhook-id"] != first[0].headers["webhook-id"]
    assert Webhook(hooked.secret).verify(again[0].body, again[0].headers) == first[0].event


def test_an_endpoint_that_never_answers_is_disabled_and_admins_told(
    hooked: Hooked, api: httpx.Client
) -> None:
    alert = eventually(
        lambda: next(
            (a for a in api.get("/api/v1/admin/alerts").json()["failing_webhooks"]),
            None,
        ),
        timeout=40,
        what="the dead endpoint's alert",
    )
    assert alert["handle"] == "dead" and "with no success" in alert["reason"]
    assert alert["failed_deliveries"] >= 1
    dead = api.get(f"{HOOKS}/dead").json()
    assert dead["active"] is False and dead["disabled_reason"] == alert["reason"]
    token = {"Authorization": f"Bearer {hooked.stack.env['NOTIFY_TOKEN']}"}
    with httpx.Client(base_url=hooked.stack.notify_url, headers=token, timeout=30) as notify:
        told = eventually(
            lambda: [
                n
                for n in notifications(notify, "-")
                if n["kind"] == "webhook_disabled" and n["status"] == "sent"
            ],
            what="the admins' notice",
        )
    assert {n["recipient"]["email"] for n in told} == {"jane@example.com"}
    assert "dead" in told[0]["subject"]
