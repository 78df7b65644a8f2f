"""The YAML config loader on SQLite and PostgreSQL: the demo file, idempotence, upserts that
touch only stated fields, and all-or-nothing failure naming the entry at fault; and the SLA plan
a ticket gets from those records (`sla_snapshot`, `effective_schedule`)."""

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.access import hash_token
from shared.db import directory
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import (
    AgentRow,
    Base,
    DepartmentRow,
    HelpTopicRow,
    SlaPlanRow,
    TeamMemberRow,
    TeamRow,
)
from shared.db.tables import ScheduleRow as ScheduleRow
from shared.domain.enums import Priority, SlaClock
from shared.domain.sla import first_response_target
from shared.reference import service as reference
from shared.reference.config_file import ConfigError, load_config
from shared.reference.schemas import AgentUpdate, DepartmentUpdate, HelpTopicUpdate

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "config" / "demo.yaml"
TABLES: list[type[Base]] = [
    ScheduleRow,
    AgentRow,
    DepartmentRow,
    TeamRow,
    TeamMemberRow,
    SlaPlanRow,
    HelpTopicRow,
]


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


def counts(session: Session) -> dict[str, int]:
    return {
        t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES
    }


def who(session: Session, token: str) -> str | None:
    agent = directory.agent_by_token_hash(session, hash_token(token))
    return agent.handle if agent else None


def test_demo_file_loads_the_seed_story(session: Session) -> None:
    report = load_config(session, DEMO)
    assert report.tokens == [
        ("jane", "dev-jane-token"),
        ("john", "dev-john-token"),
        ("vera", "dev-vera-token"),
    ]
    assert ("help_topics", "online-banking") in report.created and not report.updated
    assert counts(session) == {
        "schedules": 1,
        "agents": 3,
        "departments": 2,
        "teams": 1,
        "team_members": 2,
        "sla_plans": 3,
        "help_topics": 4,
    }
    assert who(session, "dev-jane-token") == "jane" and who(session, "dev-vera-token") == "vera"
    assert reference.get_team(session=session, handle="online-banking").members == ["jane", "john"]
    assert reference.get_agent(session=session, handle="john").teams == ["online-banking"]
    topic = reference.get_help_topic(session=session, handle="online-banking")
    assert (topic.department, topic.team, topic.sla_plan) == (
        "online-banking",
        "online-banking",
        "default",
    )
    plan = directory.sla_snapshot(session.get_one(SlaPlanRow, "default"), None)
    assert first_response_target(plan, Priority.EMERGENCY).total_seconds() == 30 * 60
    assert first_response_target(plan, Priority.NORMAL).total_seconds() == 4 * 3600
    short = directory.sla_snapshot(session.get_one(SlaPlanRow, "short"), None)
    assert short.auto_close.total_seconds() == 60


def test_demo_business_plan_counts_in_office_hours_with_a_ladder(session: Session) -> None:
    load_config(session, DEMO)
    hours = reference.get_schedule(session=session, handle="office-hours")
    assert hours.timezone == "Europe/London" and sorted(hours.hours) == [0, 1, 2, 3, 4]
    assert [(h.month, h.day) for h in hours.yearly_holidays] == [(12, 25), (1, 1)]
    row = session.get_one(SlaPlanRow, "business")
    schedule = directory.effective_schedule(session, department="support", plan=row)
    assert schedule is not None and schedule.timezone == "Europe/London"
    plan = directory.sla_snapshot(row, schedule)
    assert plan.schedule == schedule and plan.next_response == timedelta(hours=8)
    assert (plan.resolution, plan.auto_close) == (timedelta(days=3), timedelta(days=7))
    ladder = plan.ladders[SlaClock.RESOLUTION]
    assert list(plan.ladders) == [SlaClock.RESOLUTION]
    warning, l1, l2 = ladder.steps
    assert (warning.at_percent, warning.notify) == (75, ["assignee"])
    assert (l1.after_breach, l1.notify) == (timedelta(0), ["owner"])
    assert (l2.after_breach, l2.notify, l2.raise_priority) == (
        timedelta(hours=1),
        ["team_lead", "department_manager"],
        True,
    )
    assert (ladder.repeat_every, ladder.repeat_max) == (timedelta(hours=2), 3)
    # The default plan stays around the clock, without ladders or a next-response target.
    default = session.get_one(SlaPlanRow, "default")
    assert directory.effective_schedule(session, department="support", plan=default) is None
    snapshot = directory.sla_snapshot(default, None)
    assert (snapshot.schedule, snapshot.next_response, snapshot.ladders) == (None, None, {})


def test_department_schedule_wins_over_the_plan_s(session: Session) -> None:
    load_config(session, DEMO)
    night = {
        "handle": "night",
        "name": "Night shift",
        "timezone": "UTC",
        "hours": {day: [{"start": "22:00", "end": "24:00"}] for day in range(7)},
    }
    load_config(session, {"schedules": [night]})
    reference.update_department(
        session=session, handle="online-banking", data=DepartmentUpdate(schedule="night")
    )
    session.commit()
    business = session.get_one(SlaPlanRow, "business")
    default = session.get_one(SlaPlanRow, "default")

    def zone(department: str, plan: SlaPlanRow) -> str | None:
        schedule = directory.effective_schedule(session, department=department, plan=plan)
        return None if schedule is None else schedule.timezone

    assert zone("online-banking", business) == "UTC"  # the department's
    assert zone("online-banking", default) == "UTC"
    assert zone("support", business) == "Europe/London"  # the plan's
    assert zone("support", default) is None  # neither: 24/7
    assert zone("no-such-department", business) == "Europe/London"


def test_loading_twice_changes_nothing(session: Session) -> None:
    first = load_config(session, DEMO)
    before = counts(session)
    again = load_config(session, DEMO)
    assert again.created == [] and again.updated == [] and again.tokens == []
    assert sorted(again.unchanged) == sorted(first.created)
    assert counts(session) == before
    assert who(session, "dev-john-token") == "john"


def test_upserting_a_schedule_and_a_plan_changes_only_what_they_state(session: Session) -> None:
    load_config(session, DEMO)
    # Neither states the holidays nor the ladders: those stay as they were.
    schedule = {
        "handle": "office-hours",
        "name": "Office hours (London)",
        "timezone": "Europe/London",
        "hours": {"5": [{"start": "10:00", "end": "14:00"}]},
    }
    plan = {
        "handle": "business",
        "name": "Business hours",
        "first_response": "PT4H",
        "resolution": "P3D",
        "auto_close": "P7D",
        "schedule": None,
        "next_response": "PT2H",
    }
    report = load_config(session, {"schedules": [schedule], "sla_plans": [plan]})
    assert report.updated == [("schedules", "office-hours"), ("sla_plans", "business")]
    hours = reference.get_schedule(session=session, handle="office-hours")
    assert sorted(hours.hours) == [5] and hours.timezone == "Europe/London"
    assert len(hours.yearly_holidays) == 2
    plan = reference.get_sla_plan(session=session, handle="business")
    assert (plan.schedule, plan.next_response) == (None, "PT2H")
    assert plan.ladders[SlaClock.RESOLUTION].repeat_max == 3


def test_a_plan_s_ladder_may_name_teams_and_agents_of_the_same_file(session: Session) -> None:
    step = {"name": "L1", "after_breach": "PT0S", "notify": ["team:t", "agent:ann"]}
    report = load_config(
        session,
        {
            **bad_file(),
            "help_topics": [],
            "teams": [{"handle": "t", "name": "T", "lead": "ann"}],
            "sla_plans": [
                {**bad_file()["sla_plans"][0], "ladders": {"resolution": {"steps": [step]}}}
            ],
        },
    )
    assert ("sla_plans", "p") in report.created
    ladder = reference.get_sla_plan(session=session, handle="p").ladders[SlaClock.RESOLUTION]
    assert ladder.steps[0].notify == ["team:t", "agent:ann"]


def test_unquoted_times_in_yaml_are_rejected(tmp_path: Path, session: Session) -> None:
    # YAML 1.1 reads a bare 17:00 as the number 1020 (base 60).
    source = tmp_path / "hours.yaml"
    source.write_text(
        "schedules:\n"
        "  - handle: office\n"
        "    name: Office\n"
        "    timezone: Europe/London\n"
        "    hours: {0: [{start: '09:00', end: 17:00}]}\n"
    )
    with pytest.raises(ConfigError, match=r"^schedules 'office': hours\.0\.0\.end: .*quote it"):
        load_config(session, source)
    assert set(counts(session).values()) == {0}


def test_a_later_file_may_name_records_already_loaded(session: Session) -> None:
    load_config(session, DEMO)
    report = load_config(session, ROOT / "tests" / "e2e" / "fast.yaml")
    assert report.created == [
        ("schedules", "e2e-always"),
        ("sla_plans", "e2e-ladder"),
        ("sla_plans", "e2e-pause"),
        ("sla_plans", "e2e-fast"),
        ("help_topics", "outage-ladder"),
        ("help_topics", "waiting-on-customer"),
        ("help_topics", "outage-fast"),
    ]


def test_upsert_changes_only_the_fields_an_entry_states(session: Session) -> None:
    load_config(session, DEMO)
    # Disabled through the admin API; a reload of the same file must not re-enable john.
    reference.update_agent(session=session, handle="john", data=AgentUpdate(active=False))
    session.commit()
    report = load_config(
        session,
        {
            "agents": [
                {
                    "handle": "john",
                    "name": "Johnny Smith",
                    "email": "john@example.com",
                    "role": "agent",
                }
            ]
        },
    )
    assert report.updated == [("agents", "john")] and report.tokens == []
    john = reference.get_agent(session=session, handle="john")
    assert (john.name, john.active, john.teams) == ("Johnny Smith", False, ["online-banking"])


def test_new_agent_without_token_gets_one_and_a_changed_token_replaces_the_old(
    session: Session,
) -> None:
    load_config(session, DEMO)
    ada: dict[str, Any] = {
        "handle": "ada",
        "name": "Ada",
        "email": "ada@example.com",
        "role": "agent",
        "teams": ["online-banking"],
    }
    report = load_config(session, {"agents": [ada]})
    [(handle, token)] = report.tokens
    assert handle == "ada" and token.startswith("tf_") and who(session, token) == "ada"
    assert "ada" in reference.get_team(session=session, handle="online-banking").members
    report = load_config(session, {"agents": [{**ada, "token": "another-dev-token"}]})
    assert report.tokens == [("ada", "another-dev-token")]
    assert who(session, token) is None and who(session, "another-dev-token") == "ada"


def bad_file() -> dict[str, Any]:
    return {
        "sla_plans": [
            {
                "handle": "p",
                "name": "P",
                "first_response": "PT1H",
                "resolution": "PT2H",
                "auto_close": "PT3H",
            }
        ],
        "agents": [{"handle": "ann", "name": "Ann", "email": "ann@example.com", "role": "admin"}],
        "departments": [{"handle": "d", "name": "D", "manager": "ann"}],
        "help_topics": [
            {"handle": "t", "name": "T", "department": "d", "sla_plan": "p"},
            {"handle": "broken", "name": "B", "department": "nope", "sla_plan": "p"},
        ],
    }


def test_a_bad_entry_rolls_back_everything(session: Session, database_url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(session, bad_file())
    assert str(caught.value) == "help_topics 'broken': unknown department 'nope'"
    assert (caught.value.kind, caught.value.handle) == ("help_topics", "broken")
    engine = make_engine(database_url)  # a fresh connection sees nothing either
    with make_sessionmaker(engine)() as fresh:
        assert set(counts(fresh).values()) == {0}
    engine.dispose()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"agents": [{"handle": "bob", "name": "Bob", "email": "nope", "role": "agent"}]},
            "agents 'bob': email: not a valid e-mail address",
        ),
        (
            {"agents": [{"handle": "bob", "name": "Bob", "email": "b@x.io", "role": "boss"}]},
            "agents 'bob': role: Input should be 'admin', 'agent' or 'viewer'",
        ),
        (
            {
                "sla_plans": [
                    {
                        "handle": "z",
                        "name": "Z",
                        "first_response": "PT0S",
                        "resolution": "P1D",
                        "auto_close": "P1D",
                    }
                ]
            },
            "sla_plans 'z': first_response: Value error",
        ),
        ({"teams": [{"name": "no handle", "lead": "ann"}]}, "teams '#1': handle: Field required"),
        (
            {
                "help_topics": [
                    {
                        "handle": "t",
                        "name": "T",
                        "department": "d",
                        "sla_plan": "p",
                        "colour": "red",
                    }
                ]
            },
            "help_topics 't': colour: Extra inputs",
        ),
        (
            {"agents": [{"handle": "ann", "name": "A", "email": "a@x.io", "role": "agent"}] * 2},
            "agents 'ann': listed more than once",
        ),
        ({"widgets": []}, "widgets: Extra inputs are not permitted"),
        ({"agents": {"handle": "ann"}}, "agents: Input should be a valid list"),
        (
            {
                "agents": [
                    {"handle": "ann", "name": "A", "email": "a@x.io", "role": "agent", "teams": []}
                ],
                "teams": [{"handle": "x", "name": "X", "lead": "ann", "members": ["ann"]}],
            },
            "teams 'x': members and agent 'ann''s teams disagree",
        ),
        (
            {"schedules": [{"handle": "s", "name": "S", "timezone": "Mars/Olympus", "hours": {}}]},
            "schedules 's': timezone: Value error, unknown IANA time zone",
        ),
        (
            {
                "schedules": [
                    {
                        "handle": "s",
                        "name": "S",
                        "timezone": "UTC",
                        "hours": {
                            0: [
                                {"start": "09:00", "end": "13:00"},
                                {"start": "12:00", "end": "17:00"},
                            ]
                        },
                    }
                ]
            },
            "schedules 's': hours: Value error, opening intervals overlap on weekday 0",
        ),
        (
            {"departments": [{"handle": "d", "name": "D", "manager": "ann", "schedule": "none"}]},
            "departments 'd': unknown schedule 'none'",
        ),
        (
            {"sla_plans": [{**bad_file()["sla_plans"][0], "schedule": "none"}]},
            "sla_plans 'p': unknown schedule 'none'",
        ),
        (
            {
                "sla_plans": [
                    {
                        **bad_file()["sla_plans"][0],
                        "ladders": {"closing": {"steps": []}},
                    }
                ]
            },
            "sla_plans 'p': ladders.closing.[key]: Input should be 'first_response'",
        ),
        (
            {
                "sla_plans": [
                    {
                        **bad_file()["sla_plans"][0],
                        "ladders": {
                            "resolution": {
                                "steps": [
                                    {"name": "L1", "after_breach": "PT0S", "notify": ["team:x"]}
                                ]
                            }
                        },
                    }
                ]
            },
            "sla_plans 'p': unknown team 'x'",
        ),
    ],
)
def test_invalid_entries_are_named_and_nothing_is_written(
    session: Session, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        load_config(session, {**bad_file(), "help_topics": [], **change})
    assert set(counts(session).values()) == {0}


def test_unreadable_or_malformed_files_are_config_errors(tmp_path: Path, session: Session) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(session, tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("agents: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(session, broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(session, str(listing))
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\nagents:\n")
    assert load_config(session, empty).created == []


def test_help_topic_texts_load_and_upsert_like_every_other_field(session: Session) -> None:
    load_config(session, DEMO)
    banking = reference.get_help_topic(session=session, handle="online-banking")
    assert banking.active and (banking.description or "").startswith("Online banking down")
    assert (banking.instructions or "").splitlines() == [
        "The date and time it started, and whether it still happens.",
        "What you were doing: signing in, a payment, a transfer.",
        "The error shown, word for word (a screenshot helps).",
        "Your browser or the banking app, and its version.",
    ]
    assert reference.get_help_topic(session=session, handle="general").instructions is None
    # Taken off through the admin API: a reload of a file that states no `active` keeps it off.
    off = HelpTopicUpdate(active=False)
    reference.update_help_topic(session=session, handle="network", data=off)
    session.commit()
    assert load_config(session, DEMO).updated == []
    assert not reference.get_help_topic(session=session, handle="network").active
    entry = {
        "handle": "network",
        "name": "Network / connectivity",
        "department": "support",
        "sla_plan": "default",
        "instructions": "Where you are.\nSince when.",
        "active": True,
    }
    assert load_config(session, {"help_topics": [entry]}).updated == [("help_topics", "network")]
    network = reference.get_help_topic(session=session, handle="network")
    assert (network.active, network.instructions) == (True, "Where you are.\nSince when.")
    assert (
        network.description
        == "No connection to the network, Wi-Fi or VPN, or one that keeps dropping."
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"description": "Two\nlines"}, "help_topics 't': description: must be a single line"),
        ({"description": "Bell\x07"}, "help_topics 't': description: may not contain the control"),
        (
            {"instructions": "i" * 2001},
            "help_topics 't': instructions: String should have at most 2000 characters",
        ),
        ({"instructions": "NUL\x00"}, "help_topics 't': instructions: may not contain the control"),
        ({"active": "sometimes"}, "help_topics 't': active: Input should be a valid boolean"),
    ],
)
def test_a_help_topic_s_bad_texts_name_the_entry_and_nothing_is_written(
    session: Session, change: dict[str, Any], message: str
) -> None:
    topic = {"handle": "t", "name": "T", "department": "d", "sla_plan": "p", **change}
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        load_config(session, {**bad_file(), "help_topics": [topic]})
    assert set(counts(session).values()) == {0}
