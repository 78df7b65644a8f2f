"""Reference data service: agents, teams, departments, help topics, SLA plans, schedules.

Shared by the admin API and the config loader. Functions flush but never commit: the caller
owns the transaction, so a config file loads all or nothing.
"""

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.access import hash_token, new_agent_token
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
from shared.domain.business_time import Schedule
from shared.domain.errors import NotFound
from shared.domain.models import Ladder
from shared.reference.schemas import (
    AgentCreate,
    AgentRead,
    AgentUpdate,
    DepartmentCreate,
    DepartmentRead,
    DepartmentUpdate,
    HelpTopicCreate,
    HelpTopicRead,
    HelpTopicUpdate,
    ScheduleCreate,
    ScheduleRead,
    ScheduleUpdate,
    SlaPlanCreate,
    SlaPlanRead,
    SlaPlanUpdate,
    TeamCreate,
    TeamRead,
    TeamUpdate,
)

Row = TypeVar("Row", bound=Base)
KIND: dict[type[Base], str] = {
    AgentRow: "agent",
    TeamRow: "team",
    DepartmentRow: "department",
    HelpTopicRow: "help topic",
    SlaPlanRow: "SLA plan",
    ScheduleRow: "schedule",
}
# Columns naming another record: checked before writing, so a bad handle is a clear
# UnknownReference rather than a foreign-key failure (which SQLite may not even raise).
REFERENCES: dict[type[Base], dict[str, type[Base]]] = {
    TeamRow: {"lead": AgentRow},
    DepartmentRow: {"manager": AgentRow, "schedule": ScheduleRow},
    HelpTopicRow: {
        "department": DepartmentRow,
        "sla_plan": SlaPlanRow,
        "team": TeamRow,
        "agent": AgentRow,
    },
    SlaPlanRow: {"schedule": ScheduleRow},
}


class ReferenceDataError(Exception):
    """Base of the errors below; each message is fit to show a user."""


class DuplicateHandle(ReferenceDataError):
    def __init__(self, kind: str, handle: str) -> None:
        super().__init__(f"{kind} {handle!r} already exists")
        self.kind, self.handle = kind, handle


class UnknownReference(ReferenceDataError):
    """A record names another one (a team's lead, a topic's SLA plan) that does not exist."""

    def __init__(self, kind: str, handle: str, field: str) -> None:
        super().__init__(f"unknown {kind} {handle!r}")
        self.kind, self.handle, self.field = kind, handle, field


class InvalidSchedule(ReferenceDataError):
    """An update would leave a schedule invalid (say, its new hours overlap)."""

    def __init__(self, handle: str, error: ValidationError) -> None:
        self.errors = error.errors(include_url=False, include_context=False, include_input=False)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in self.errors
        )
        super().__init__(f"schedule {handle!r} would be invalid: {problems}")
        self.handle = handle


class TokenInUse(ReferenceDataError):
    def __init__(self, handle: str) -> None:
        super().__init__(f"the token given for agent {handle!r} belongs to another agent")
        self.handle = handle


def _get(session: Session, table: type[Row], handle: str) -> Row:
    row = session.get(table, handle)
    if row is None:
        raise NotFound(f"{KIND[table]} {handle!r}")
    return row


def _require(
    session: Session, table: type[Base], handles: Iterable[str | None], field: str
) -> None:
    for handle in handles:
        if handle is not None and session.get(table, handle) is None:
            raise UnknownReference(KIND[table], handle, field)


def _columns(table: type[Base], values: dict[str, Any], session: Session) -> dict[str, Any]:
    for field, target in REFERENCES.get(table, {}).items():
        if field in values:
            _require(session, target, [values[field]], field)
    if values.get("by_priority") is not None:
        values["by_priority"] = {
            priority: {k: v for k, v in override.items() if v is not None}
            for priority, override in values["by_priority"].items()
        }
    if "ladders" in values and values["ladders"] is None:
        values["ladders"] = {}  # the column is not nullable: no ladders is an empty mapping
    if values.get("ladders"):
        _require_ladder_handles(session, values["ladders"])
    return values


def _require_ladder_handles(session: Session, ladders: dict[str, Any]) -> None:
    """The teams and agents a ladder (as stored JSON) notifies or reassigns to must exist."""
    steps = [step for ladder in ladders.values() for step in Ladder.model_validate(ladder).steps]
    targets = [target.partition(":") for step in steps for target in step.notify]
    teams = [handle for kind, _, handle in targets if kind == "team"]
    _require(session, TeamRow, [*teams, *(step.reassign_team for step in steps)], "ladders")
    _require(
        session, AgentRow, [handle for kind, _, handle in targets if kind == "agent"], "ladders"
    )


def _create(session: Session, table: type[Row], data: BaseModel, *, skip: str = "") -> Row:
    values = data.model_dump(mode="json", exclude={skip} if skip else None)
    if session.get(table, values["handle"]) is not None:
        raise DuplicateHandle(KIND[table], values["handle"])
    row = table(**_columns(table, values, session))
    session.add(row)
    session.flush()
    return row


def _update(session: Session, table: type[Row], handle: str, data: BaseModel) -> Row:
    row = _get(session, table, handle)
    values = data.model_dump(mode="json", exclude_unset=True, exclude={"teams", "members"})
    values.pop("rotate_token", None)
    for name, value in _columns(table, values, session).items():
        setattr(row, name, value)
    session.flush()
    return row


def _memberships(session: Session, *, team: str = "", agent: str = "") -> list[TeamMemberRow]:
    query = select(TeamMemberRow).order_by(TeamMemberRow.team, TeamMemberRow.agent)
    if team:
        query = query.where(TeamMemberRow.team == team)
    if agent:
        query = query.where(TeamMemberRow.agent == agent)
    return list(session.scalars(query))


def _set_memberships(
    session: Session, current: list[TeamMemberRow], wanted: set[tuple[str, str]]
) -> None:
    """Make the (team, agent) pairs among `current` exactly `wanted`."""
    have = {(m.team, m.agent) for m in current}
    for member in current:
        if (member.team, member.agent) not in wanted:
            session.delete(member)
    session.add_all(TeamMemberRow(team=team, agent=agent) for team, agent in sorted(wanted - have))
    session.flush()


def _store_token(session: Session, agent: AgentRow, token: str) -> bool:
    """Set the agent's token (hashed); False if it already was this token."""
    digest = hash_token(token)
    if agent.token_hash == digest:
        return False
    if session.scalar(select(AgentRow.handle).where(AgentRow.token_hash == digest)) is not None:
        raise TokenInUse(agent.handle)
    agent.token_hash = digest
    session.flush()
    return True


# Agents


def _agent_read(session: Session, agent: AgentRow) -> AgentRead:
    teams = [m.team for m in _memberships(session, agent=agent.handle)]
    return AgentRead.model_validate({**_attributes(agent), "teams": teams})


def _attributes(row: Base) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def get_agent(*, session: Session, handle: str) -> AgentRead:
    return _agent_read(session, _get(session, AgentRow, handle))


def list_agents(*, session: Session) -> list[AgentRead]:
    return [
        _agent_read(session, a) for a in session.scalars(select(AgentRow).order_by(AgentRow.handle))
    ]


def create_agent(
    *, session: Session, data: AgentCreate, token: str | None = None
) -> tuple[AgentRead, str]:
    """Create an active agent; returns it with its token (generated unless given): the only
    time the token is seen, since only its hash is stored."""
    agent = _create(session, AgentRow, data, skip="teams")
    _require(session, TeamRow, data.teams, "teams")
    token = token or new_agent_token()
    _store_token(session, agent, token)
    _set_memberships(session, [], {(team, agent.handle) for team in data.teams})
    return _agent_read(session, agent), token


def update_agent(
    *, session: Session, handle: str, data: AgentUpdate
) -> tuple[AgentRead, str | None]:
    """Apply a partial update; returns the agent and, if `rotate_token`, its new token."""
    agent = _update(session, AgentRow, handle, data)
    if data.teams is not None:
        _require(session, TeamRow, data.teams, "teams")
        current = _memberships(session, agent=handle)
        _set_memberships(session, current, {(team, handle) for team in data.teams})
    token = new_agent_token() if data.rotate_token else None
    if token is not None:
        _store_token(session, agent, token)
    return _agent_read(session, agent), token


def set_agent_token(*, session: Session, handle: str, token: str) -> bool:
    """Give an agent a chosen token (dev and demo files); False if it already had it."""
    return _store_token(session, _get(session, AgentRow, handle), token)


# Teams


def _team_read(session: Session, team: TeamRow) -> TeamRead:
    members = sorted(m.agent for m in _memberships(session, team=team.handle))
    return TeamRead.model_validate({**_attributes(team), "members": members})


def get_team(*, session: Session, handle: str) -> TeamRead:
    return _team_read(session, _get(session, TeamRow, handle))


def list_teams(*, session: Session) -> list[TeamRead]:
    return [
        _team_read(session, t) for t in session.scalars(select(TeamRow).order_by(TeamRow.handle))
    ]


def create_team(*, session: Session, data: TeamCreate) -> TeamRead:
    team = _create(session, TeamRow, data, skip="members")
    _require(session, AgentRow, data.members, "members")
    _set_memberships(session, [], {(team.handle, agent) for agent in data.members})
    return _team_read(session, team)


def update_team(*, session: Session, handle: str, data: TeamUpdate) -> TeamRead:
    team = _update(session, TeamRow, handle, data)
    if data.members is not None:
        _require(session, AgentRow, data.members, "members")
        current = _memberships(session, team=handle)
        _set_memberships(session, current, {(handle, agent) for agent in data.members})
    return _team_read(session, team)


# Schedules: a handle and a name, the rest kept as the JSON of `Schedule`


def _schedule_read(row: ScheduleRow) -> ScheduleRead:
    return ScheduleRead.model_validate({"handle": row.handle, "name": row.name, **row.definition})


def get_schedule(*, session: Session, handle: str) -> ScheduleRead:
    return _schedule_read(_get(session, ScheduleRow, handle))


def list_schedules(*, session: Session) -> list[ScheduleRead]:
    rows = session.scalars(select(ScheduleRow).order_by(ScheduleRow.handle))
    return [_schedule_read(row) for row in rows]


def create_schedule(*, session: Session, data: ScheduleCreate) -> ScheduleRead:
    if session.get(ScheduleRow, data.handle) is not None:
        raise DuplicateHandle(KIND[ScheduleRow], data.handle)
    definition = data.model_dump(mode="json", exclude={"handle", "name"})
    row = ScheduleRow(handle=data.handle, name=data.name, definition=definition)
    session.add(row)
    session.flush()
    return _schedule_read(row)


def update_schedule(*, session: Session, handle: str, data: ScheduleUpdate) -> ScheduleRead:
    """Replace the stated fields; the schedule they leave must be valid as a whole."""
    row = _get(session, ScheduleRow, handle)
    if data.name is not None:
        row.name = data.name
    stated = data.model_dump(mode="json", exclude_unset=True, exclude={"name"})
    if stated:
        try:
            schedule = Schedule.model_validate({**row.definition, **stated})
        except ValidationError as err:
            raise InvalidSchedule(handle, err) from err
        row.definition = schedule.model_dump(mode="json")
    session.flush()
    return _schedule_read(row)


# Departments, help topics and SLA plans: plain records


def get_department(*, session: Session, handle: str) -> DepartmentRead:
    return DepartmentRead.model_validate(_attributes(_get(session, DepartmentRow, handle)))


def list_departments(*, session: Session) -> list[DepartmentRead]:
    rows = session.scalars(select(DepartmentRow).order_by(DepartmentRow.handle))
    return [DepartmentRead.model_validate(_attributes(row)) for row in rows]


def create_department(*, session: Session, data: DepartmentCreate) -> DepartmentRead:
    return DepartmentRead.model_validate(_attributes(_create(session, DepartmentRow, data)))


def update_department(*, session: Session, handle: str, data: DepartmentUpdate) -> DepartmentRead:
    row = _update(session, DepartmentRow, handle, data)
    return DepartmentRead.model_validate(_attributes(row))


def get_help_topic(*, session: Session, handle: str) -> HelpTopicRead:
    return HelpTopicRead.model_validate(_attributes(_get(session, HelpTopicRow, handle)))


def list_help_topics(*, session: Session) -> list[HelpTopicRead]:
    rows = session.scalars(select(HelpTopicRow).order_by(HelpTopicRow.handle))
    return [HelpTopicRead.model_validate(_attributes(row)) for row in rows]


def create_help_topic(*, session: Session, data: HelpTopicCreate) -> HelpTopicRead:
    return HelpTopicRead.model_validate(_attributes(_create(session, HelpTopicRow, data)))


def update_help_topic(*, session: Session, handle: str, data: HelpTopicUpdate) -> HelpTopicRead:
    return HelpTopicRead.model_validate(_attributes(_update(session, HelpTopicRow, handle, data)))


def get_sla_plan(*, session: Session, handle: str) -> SlaPlanRead:
    return SlaPlanRead.model_validate(_attributes(_get(session, SlaPlanRow, handle)))


def list_sla_plans(*, session: Session) -> list[SlaPlanRead]:
    rows = session.scalars(select(SlaPlanRow).order_by(SlaPlanRow.handle))
    return [SlaPlanRead.model_validate(_attributes(row)) for row in rows]


def create_sla_plan(*, session: Session, data: SlaPlanCreate) -> SlaPlanRead:
    return SlaPlanRead.model_validate(_attributes(_create(session, SlaPlanRow, data)))


def update_sla_plan(*, session: Session, handle: str, data: SlaPlanUpdate) -> SlaPlanRead:
    return SlaPlanRead.model_validate(_attributes(_update(session, SlaPlanRow, handle, data)))
