"""A random but plausible history of tickets as the ticket workflow records it: the projection
(`tickets`), clock runs (`sla_clock_facts`) and lifecycle events (`ticket_event_facts`).

Seeded, so a failing report test can be replayed. Times sit on a 30-minute grid so that facts
land exactly on window and backlog-age edges. Shared by the report tests and `bench.reports`.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from shared.db.tables import SlaClockFactRow, TicketEventFactRow, TicketRow

GRID = timedelta(minutes=30)
TEAMS = {f"team{t}": [f"agent{t}{m}" for m in range(4)] for t in range(1, 5)}
# Help topic -> (department, team); topics without a team leave their tickets unteamed.
TOPICS = {
    "login": ("online", "team1"),
    "cards": ("cards", "team2"),
    "loans": ("lending", "team3"),
    "fraud": ("cards", "team4"),
    "mortgage": ("lending", "team3"),
    "other": ("general", None),
}
PRIORITIES = ("low", "normal", "high", "emergency")
TARGETS = {"low": 48, "normal": 24, "high": 8, "emergency": 4}  # first response, in grid steps

Row = dict[str, Any]


@dataclass
class History:
    now: datetime
    tickets: list[Row] = field(default_factory=list)
    clocks: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)


@dataclass
class _Ticket:
    """One ticket being simulated: its dimensions move as events happen."""

    number: str
    at: datetime
    priority: str
    help_topic: str
    department: str
    team: str | None
    assignee: str | None = None
    status: str = "open"
    events: list[Row] = field(default_factory=list)
    clocks: list[Row] = field(default_factory=list)

    def dims(self) -> Row:
        return {
            "assignee": self.assignee,
            "team": self.team,
            "department": self.department,
            "help_topic": self.help_topic,
            "priority": self.priority,
        }

    def event(self, kind: str, actor: str | None) -> None:
        row = {"ticket": self.number, "seq": len(self.events) + 1, "kind": kind, "at": self.at}
        self.events.append({**row, "actor": actor, **self.dims()})


def generate(*, tickets: int, seed: int, start: datetime, days: int) -> History:
    """`tickets` tickets created over `days` days from `start`; nothing happens after `now`."""
    rng = random.Random(seed)
    history = History(now=start + timedelta(days=days))
    steps = days * 48
    for i in range(tickets):
        created = start + GRID * rng.randrange(steps)
        ticket = _simulate(rng, f"T{i + 1:07d}", created, history.now)
        history.tickets.append(_projection(ticket, created, history.now))
        history.clocks += ticket.clocks
        history.events += ticket.events
    return history


def _simulate(rng: random.Random, number: str, created: datetime, now: datetime) -> _Ticket:
    topic = rng.choice(list(TOPICS))
    department, team = TOPICS[topic]
    priority = rng.choices(PRIORITIES, weights=(3, 5, 2, 1))[0]
    t = _Ticket(number, created, priority, topic, department, team)
    t.event("created", None)
    waiting: Row | None = _start_clock(t, rng, "first_response", 1, TARGETS[priority])
    resolution = _start_clock(t, rng, "resolution", 1, TARGETS[priority] * 6)
    replies = 0
    pace = 6 if rng.random() < 0.15 else 1  # some tickets linger for weeks
    while True:
        t.at += GRID * pace * rng.choice((1, 1, 2, 3, 5, 8, 13, 30, 48, 96))
        if t.at >= now or t.status == "closed":
            break
        roll = rng.random()
        members = TEAMS.get(t.team or "", [])
        if t.status == "resolved":
            if roll < 0.15:
                t.status = "open"
                t.event("reopened", None)
                resolution = _start_clock(t, rng, "resolution", resolution["cycle"] + 1, 48)
            elif roll < 0.8:
                _close(t, rng)
        elif t.status == "pending":
            if roll < 0.5:
                t.status = "open"
                replies, waiting = _reply(t, rng, replies, waiting)
            elif roll < 0.7:
                _close(t, rng)
        elif t.assignee is None and members and roll < 0.5:
            t.assignee = rng.choice(members)
            t.event("assigned", rng.choice([*members, None]))
        elif roll < 0.05:
            t.team, t.assignee = rng.choice([*TEAMS, None]), None
            t.event("transferred", rng.choice([*members, None]))
        elif roll < 0.1:
            t.priority = rng.choice(PRIORITIES)
            t.event("priority_changed", t.assignee)
        elif waiting is not None and roll < 0.5:
            _stop_clock(waiting, t.at, rng, "met_or_late")
            t.event("responded", t.assignee or rng.choice([*members, "agent11"]))
            waiting = None
        elif waiting is None and roll < 0.6:
            replies, waiting = _reply(t, rng, replies, waiting)
        elif roll < 0.8 and (waiting is None or roll < 0.62):
            _stop_clock(resolution, t.at, rng, "met_or_late")
            if waiting is not None:
                _stop_clock(waiting, t.at, rng, "cancelled")
                waiting = None
            t.status = "resolved"
            t.event("resolved", t.assignee if rng.random() < 0.9 else None)
        elif roll < 0.9:
            t.status = "pending"
            t.event("pending", t.assignee)
        elif roll < 0.95:
            t.event("noted", t.assignee)
        else:
            _close(t, rng)
    for clock in t.clocks:
        # Dimensions as of the clock's last write; the workflow rewrites every run each time.
        clock.update(t.dims())
        if clock["outcome"] == "running" and clock["due_at"] <= now:
            clock["breached"], clock["breached_at"] = True, clock["due_at"]
    return t


def _reply(
    t: _Ticket, rng: random.Random, replies: int, waiting: Row | None
) -> tuple[int, Row | None]:
    """The requester writes: a next-response run starts unless a response is already due."""
    t.event("requester_replied", None)
    if waiting is not None:
        return replies, waiting
    return replies + 1, _start_clock(t, rng, "next_response", replies + 1, 16)


def _close(t: _Ticket, rng: random.Random) -> None:
    for clock in t.clocks:
        _stop_clock(clock, t.at, rng, "cancelled")
    t.status = "closed"
    t.event(rng.choice(("closed", "auto_closed")), t.assignee)


def _start_clock(t: _Ticket, rng: random.Random, clock: str, cycle: int, steps: int) -> Row:
    due = t.at + GRID * steps
    row: Row = {"ticket": t.number, "clock": clock, "cycle": cycle, "started_at": t.at}
    row |= {"target_seconds": int((due - t.at).total_seconds()), "due_at": due}
    row |= {"stopped_at": None, "outcome": "running", "breached": False, "breached_at": None}
    row |= {"business_seconds": None, "wall_seconds": None}
    t.clocks.append(row)
    return row


def _stop_clock(clock: Row, at: datetime, rng: random.Random, how: str) -> None:
    if clock["outcome"] != "running":
        return
    late = at > clock["due_at"]
    wall = int((at - clock["started_at"]).total_seconds())
    clock["stopped_at"] = at
    clock["outcome"] = "cancelled" if how == "cancelled" else ("late" if late else "met")
    clock["breached"], clock["breached_at"] = late, clock["due_at"] if late else None
    clock["wall_seconds"] = wall
    # Business time excludes nights, weekends and pauses: some random share of wall time.
    clock["business_seconds"] = int(wall * rng.uniform(0.2, 1.0))


def _projection(t: _Ticket, created: datetime, now: datetime) -> Row:
    running = [c for c in t.clocks if c["outcome"] == "running"]
    due = {c["clock"]: c["due_at"] for c in running}
    return {
        "number": t.number,
        "version": len(t.events),
        "subject": f"ticket {t.number}",
        "status": t.status,
        "source": "web",
        "requester_name": "Requester",
        "requester_email": f"r{t.number.lower()}@example.com",
        "sla_plan": "default",
        "first_response_due": due.get("first_response"),
        "resolution_due": due.get("resolution"),
        "overdue": t.status in ("open", "pending") and any(c["breached"] for c in running),
        "escalation_level": 0,
        "created_at": created,
        "updated_at": t.at,
        "state": {},
        **{k: v for k, v in t.dims().items()},
    }


def store(session: Session, history: History) -> None:
    """Insert the history (a few thousand rows at most: tests; the bench uses COPY)."""
    for table, rows in (
        (TicketRow, history.tickets),
        (SlaClockFactRow, history.clocks),
        (TicketEventFactRow, history.events),
    ):
        if rows:
            session.execute(insert(table), rows)
    session.commit()
