"""Reference data from a declarative YAML file, loaded idempotently and all or nothing.

    schedules:   [{handle, name, timezone, hours, holidays?, yearly_holidays?}]
    agents:      [{handle, name, email, role, teams?, token?}]
    departments: [{handle, name, manager, schedule?}]
    teams:       [{handle, name, lead, members?}]
    sla_plans:   [{handle, name, first_response, resolution, auto_close, by_priority?,
                   next_response?, schedule?, ladders?}]
    help_topics: [{handle, name, department, sla_plan, priority?, team?, agent?,
                   description?, instructions?, active?}]

A schedule's `hours` maps weekday (0 = Monday ... 6 = Sunday) to [{start, end}] local times,
quoted ("17:00": YAML reads a bare 17:00 as a number); `holidays` are dates, `yearly_holidays`
[{month, day}]. A plan's `ladders` maps a clock (first_response, next_response, resolution) to
{steps: [{name, at_percent | after_breach, notify?, raise_priority?, reassign_team?}],
repeat_every?, repeat_max?}; SLA plans load after teams and agents, which ladders may name.
A help topic's `description` (one line) and `instructions` (what to put in a ticket of it) are
shown to requesters; `active: false` takes it off the portal and refuses new tickets under it.

Every section is optional and entries use the admin API's models. Entries are upserted by
handle: an existing record changes only in the fields its entry states. An agent's `teams` and
a team's `members` are both exact lists; a file in which the two disagree is rejected.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, StringConstraints, ValidationError
from sqlalchemy.orm import Session

from shared.db import audit
from shared.domain.audit import SECRET_ROTATED, AuditEntity
from shared.domain.enums import ActorKind
from shared.domain.errors import NotFound
from shared.domain.models import Actor
from shared.reference import service as reference
from shared.reference.schemas import (
    AgentCreate,
    AgentUpdate,
    DepartmentCreate,
    DepartmentUpdate,
    HelpTopicCreate,
    HelpTopicUpdate,
    ScheduleCreate,
    ScheduleUpdate,
    SlaPlanCreate,
    SlaPlanUpdate,
    Strict,
    TeamCreate,
    TeamUpdate,
)
from shared.reference.service import ReferenceDataError

Token = Annotated[str, StringConstraints(pattern=r"^\S{8,200}$")]


class AgentEntry(AgentCreate):
    """An agent in a config file: it may fix its token (stored hashed), for dev and demos."""

    token: Token | None = None


class ConfigFile(Strict):
    """The whole file; the field order is the load order (each names only those before it)."""

    schedules: list[ScheduleCreate] = []
    agents: list[AgentEntry] = []
    departments: list[DepartmentCreate] = []
    teams: list[TeamCreate] = []
    sla_plans: list[SlaPlanCreate] = []
    help_topics: list[HelpTopicCreate] = []


class ConfigError(Exception):
    """The file cannot be loaded and nothing was written; names the entry at fault."""

    def __init__(self, message: str, *, kind: str = "", handle: str = "") -> None:
        where = f"{kind} {handle!r}: " if handle else f"{kind}: " if kind else ""
        super().__init__(where + message)
        self.kind, self.handle = kind, handle


@dataclass
class LoadReport:
    created: list[tuple[str, str]] = field(default_factory=list)  # (section, handle)
    updated: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    tokens: list[tuple[str, str]] = field(default_factory=list)  # (agent handle, token set)


def load_config(session: Session, source: str | Path | Mapping[str, Any]) -> LoadReport:
    """Load a YAML file (or its parsed mapping) in one transaction: commit if every entry
    applies, else roll back and raise ConfigError."""
    config = parse_config(read_yaml(source) if isinstance(source, str | Path) else source)
    try:
        report = _apply(session, config)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return report


def read_yaml(path: str | Path) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(" ".join(f"{path} is not valid YAML: {err}".split())) from err


def parse_config(data: Any) -> ConfigFile:
    """Validate the whole file before anything is written."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("the top level must be a mapping of sections")
    # An empty section (`agents:` with nothing under it) reads as null: treat it as empty.
    data = {key: value for key, value in data.items() if value is not None}
    try:
        config = ConfigFile.model_validate(data)
    except ValidationError as err:
        problems = [_located(data, error) for error in err.errors()]
        kind, handle, first = problems[0]
        rest = [f"{k} {h!r}: {text}" if h else f"{k}: {text}" for k, h, text in problems[1:]]
        raise ConfigError("; ".join([first, *rest]), kind=kind, handle=handle) from err
    for kind in ConfigFile.model_fields:
        handles = [entry.handle for entry in getattr(config, kind)]
        for handle in sorted({h for h in handles if handles.count(h) > 1}):
            raise ConfigError("listed more than once", kind=kind, handle=handle)
    _check_memberships(config)
    return config


def _located(data: Mapping[str, Any], error: Any) -> tuple[str, str, str]:
    """(section, the entry's handle or #position, problem) of one validation error."""
    loc = list(error["loc"])
    kind, handle = str(loc.pop(0)) if loc else "", ""
    if loc and isinstance(loc[0], int):
        index = loc.pop(0)
        entry = data[kind][index]
        found = entry.get("handle") if isinstance(entry, dict) else None
        handle = found if isinstance(found, str) else f"#{index + 1}"
    where = ".".join(str(part) for part in loc)
    return kind, handle, f"{where}: {error['msg']}" if where else str(error["msg"])


def _check_memberships(config: ConfigFile) -> None:
    stated = {a.handle: set(a.teams) for a in config.agents if "teams" in a.model_fields_set}
    for team in config.teams:
        if "members" not in team.model_fields_set:
            continue
        for agent, teams in stated.items():
            if (team.handle in teams) != (agent in team.members):
                message = f"members and agent {agent!r}'s teams disagree"
                raise ConfigError(message, kind="teams", handle=team.handle)


@dataclass(frozen=True)
class Kind:
    """How one section is read and written; KINDS is in ConfigFile's (load) order."""

    get: Callable[..., BaseModel]
    create: Callable[..., Any]
    update: Callable[..., Any]
    patch: type[BaseModel]


KINDS: dict[str, Kind] = {
    "schedules": Kind(
        reference.get_schedule,
        reference.create_schedule,
        reference.update_schedule,
        ScheduleUpdate,
    ),
    "agents": Kind(
        reference.get_agent, reference.create_agent, reference.update_agent, AgentUpdate
    ),
    "departments": Kind(
        reference.get_department,
        reference.create_department,
        reference.update_department,
        DepartmentUpdate,
    ),
    "teams": Kind(reference.get_team, reference.create_team, reference.update_team, TeamUpdate),
    "sla_plans": Kind(
        reference.get_sla_plan, reference.create_sla_plan, reference.update_sla_plan, SlaPlanUpdate
    ),
    "help_topics": Kind(
        reference.get_help_topic,
        reference.create_help_topic,
        reference.update_help_topic,
        HelpTopicUpdate,
    ),
}


# The audit log's name for what a file changes (each record, in the load's transaction).
LOADER = Actor(kind=ActorKind.SYSTEM, name="load-config")
AUDITED = {
    "schedules": AuditEntity.SCHEDULE,
    "agents": AuditEntity.AGENT,
    "departments": AuditEntity.DEPARTMENT,
    "teams": AuditEntity.TEAM,
    "sla_plans": AuditEntity.SLA_PLAN,
    "help_topics": AuditEntity.HELP_TOPIC,
}


@contextmanager
def _blame(kind: str, handle: str) -> Iterator[None]:
    try:
        yield
    except (ReferenceDataError, NotFound) as err:
        raise ConfigError(str(err), kind=kind, handle=handle) from err


def _apply(session: Session, config: ConfigFile) -> LoadReport:
    report = LoadReport()
    before: dict[tuple[str, str], BaseModel | None] = {}
    for kind in KINDS:
        for entry in getattr(config, kind):
            with _blame(kind, entry.handle):
                before[kind, entry.handle] = _upsert(session, report, kind, entry)
    # Agents load before teams, so their team lists are applied once every team exists.
    for agent in config.agents:
        if "teams" in agent.model_fields_set:
            with _blame("agents", agent.handle):
                teams = AgentUpdate(teams=agent.teams)
                reference.update_agent(session=session, handle=agent.handle, data=teams)
    tokens_set = {handle for handle, _ in report.tokens}
    for (kind, handle), old in before.items():
        new = KINDS[kind].get(session=session, handle=handle)
        if old is None:
            report.created.append((kind, handle))
        elif new != old:
            report.updated.append((kind, handle))
        else:
            report.unchanged.append((kind, handle))
        rotated = old is not None and kind == "agents" and handle in tokens_set
        audit.record_change(
            session,
            actor=LOADER,
            entity=AUDITED[kind],
            entity_id=handle,
            before=old.model_dump(mode="json") if old is not None else None,
            after=new.model_dump(mode="json"),
            secrets={"token": SECRET_ROTATED} if rotated else None,
        )
    return report


def _upsert(session: Session, report: LoadReport, kind: str, entry: Any) -> BaseModel | None:
    """Create or update one entry; returns the record as it was before (None if new)."""
    spec = KINDS[kind]
    try:
        old = spec.get(session=session, handle=entry.handle)
    except NotFound:
        old = None
    deferred = {"token", "teams"} if kind == "agents" else set()
    if old is None and kind == "agents":
        data = AgentCreate.model_validate(entry.model_dump(exclude=deferred))
        _, token = reference.create_agent(session=session, data=data, token=entry.token)
        report.tokens.append((entry.handle, token))
    elif old is None:
        spec.create(session=session, data=entry)
    else:
        stated = entry.model_fields_set - deferred - {"handle"}
        patch = spec.patch.model_validate(entry.model_dump(mode="json", include=stated))
        spec.update(session=session, handle=entry.handle, data=patch)
        fixed = entry.token if kind == "agents" else None
        if fixed and reference.set_agent_token(session=session, handle=entry.handle, token=fixed):
            report.tokens.append((entry.handle, fixed))
    return old
