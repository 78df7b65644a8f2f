"""Admin endpoints: parse, authorise (admins only, for the whole router), call
`shared.reference.service`, audit, commit. Errors are translated by `ReferenceRoute`.

Each write records who changed what in the audit log, in the same transaction."""

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel
from sqlalchemy.orm import Session

from services.intake.admin.errors import ReferenceRoute
from services.intake.admin.schemas import AgentCreated, AgentUpdated, ItemList
from services.intake.auth import AdminAgent, Staff, get_admin
from services.intake.deps import SessionDep
from shared.db import agent_sessions, audit
from shared.domain.audit import SECRET_ROTATED, AuditEntity
from shared.reference import service as reference
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

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    dependencies=[Depends(get_admin)],
    route_class=ReferenceRoute,
)
CREATED = status.HTTP_201_CREATED


def _audit(
    session: Session,
    admin: Staff,
    entity: AuditEntity,
    handle: str,
    before: BaseModel | None,
    after: BaseModel,
    *,
    new_token: bool = False,
) -> None:
    audit.record_change(
        session,
        actor=admin.actor(),
        entity=entity,
        entity_id=handle,
        before=before.model_dump(mode="json") if before is not None else None,
        after=after.model_dump(mode="json"),
        secrets={"token": SECRET_ROTATED} if new_token else None,
    )


@router.post("/agents", status_code=CREATED)
def create_agent(body: AgentCreate, session: SessionDep, admin: AdminAgent) -> AgentCreated:
    agent, token = reference.create_agent(session=session, data=body)
    _audit(session, admin, AuditEntity.AGENT, agent.handle, None, agent)
    session.commit()
    return AgentCreated(**agent.model_dump(), token=token)


@router.get("/agents")
def list_agents(session: SessionDep) -> ItemList[AgentRead]:
    return ItemList(items=reference.list_agents(session=session))


@router.get("/agents/{handle}")
def get_agent(handle: str, session: SessionDep) -> AgentRead:
    return reference.get_agent(session=session, handle=handle)


@router.patch("/agents/{handle}")
def update_agent(
    handle: str, body: AgentUpdate, session: SessionDep, admin: AdminAgent
) -> AgentUpdated:
    """Partial update; `rotate_token: true` answers with a new token, `active: false` disables
    (and ends the agent's sign-in sessions)."""
    before = reference.get_agent(session=session, handle=handle)
    agent, token = reference.update_agent(session=session, handle=handle, data=body)
    if not agent.active:
        agent_sessions.end_all(session, handle)
    _audit(session, admin, AuditEntity.AGENT, handle, before, agent, new_token=token is not None)
    session.commit()
    return AgentUpdated(**agent.model_dump(), token=token)


@router.post("/teams", status_code=CREATED)
def create_team(body: TeamCreate, session: SessionDep, admin: AdminAgent) -> TeamRead:
    team = reference.create_team(session=session, data=body)
    _audit(session, admin, AuditEntity.TEAM, team.handle, None, team)
    session.commit()
    return team


@router.get("/teams")
def list_teams(session: SessionDep) -> ItemList[TeamRead]:
    return ItemList(items=reference.list_teams(session=session))


@router.get("/teams/{handle}")
def get_team(handle: str, session: SessionDep) -> TeamRead:
    return reference.get_team(session=session, handle=handle)


@router.patch("/teams/{handle}")
def update_team(handle: str, body: TeamUpdate, session: SessionDep, admin: AdminAgent) -> TeamRead:
    before = reference.get_team(session=session, handle=handle)
    team = reference.update_team(session=session, handle=handle, data=body)
    _audit(session, admin, AuditEntity.TEAM, handle, before, team)
    session.commit()
    return team


@router.post("/departments", status_code=CREATED)
def create_department(
    body: DepartmentCreate, session: SessionDep, admin: AdminAgent
) -> DepartmentRead:
    department = reference.create_department(session=session, data=body)
    _audit(session, admin, AuditEntity.DEPARTMENT, department.handle, None, department)
    session.commit()
    return department


@router.get("/departments")
def list_departments(session: SessionDep) -> ItemList[DepartmentRead]:
    return ItemList(items=reference.list_departments(session=session))


@router.get("/departments/{handle}")
def get_department(handle: str, session: SessionDep) -> DepartmentRead:
    return reference.get_department(session=session, handle=handle)


@router.patch("/departments/{handle}")
def update_department(
    handle: str, body: DepartmentUpdate, session: SessionDep, admin: AdminAgent
) -> DepartmentRead:
    before = reference.get_department(session=session, handle=handle)
    department = reference.update_department(session=session, handle=handle, data=body)
    _audit(session, admin, AuditEntity.DEPARTMENT, handle, before, department)
    session.commit()
    return department


@router.post("/help-topics", status_code=CREATED)
def create_help_topic(
    body: HelpTopicCreate, session: SessionDep, admin: AdminAgent
) -> HelpTopicRead:
    topic = reference.create_help_topic(session=session, data=body)
    _audit(session, admin, AuditEntity.HELP_TOPIC, topic.handle, None, topic)
    session.commit()
    return topic


@router.get("/help-topics")
def list_help_topics(session: SessionDep) -> ItemList[HelpTopicRead]:
    return ItemList(items=reference.list_help_topics(session=session))


@router.get("/help-topics/{handle}")
def get_help_topic(handle: str, session: SessionDep) -> HelpTopicRead:
    return reference.get_help_topic(session=session, handle=handle)


@router.patch("/help-topics/{handle}")
def update_help_topic(
    handle: str, body: HelpTopicUpdate, session: SessionDep, admin: AdminAgent
) -> HelpTopicRead:
    before = reference.get_help_topic(session=session, handle=handle)
    topic = reference.update_help_topic(session=session, handle=handle, data=body)
    _audit(session, admin, AuditEntity.HELP_TOPIC, handle, before, topic)
    session.commit()
    return topic


@router.post("/sla-plans", status_code=CREATED)
def create_sla_plan(body: SlaPlanCreate, session: SessionDep, admin: AdminAgent) -> SlaPlanRead:
    plan = reference.create_sla_plan(session=session, data=body)
    _audit(session, admin, AuditEntity.SLA_PLAN, plan.handle, None, plan)
    session.commit()
    return plan


@router.get("/sla-plans")
def list_sla_plans(session: SessionDep) -> ItemList[SlaPlanRead]:
    return ItemList(items=reference.list_sla_plans(session=session))


@router.get("/sla-plans/{handle}")
def get_sla_plan(handle: str, session: SessionDep) -> SlaPlanRead:
    return reference.get_sla_plan(session=session, handle=handle)


@router.patch("/sla-plans/{handle}")
def update_sla_plan(
    handle: str, body: SlaPlanUpdate, session: SessionDep, admin: AdminAgent
) -> SlaPlanRead:
    before = reference.get_sla_plan(session=session, handle=handle)
    plan = reference.update_sla_plan(session=session, handle=handle, data=body)
    _audit(session, admin, AuditEntity.SLA_PLAN, handle, before, plan)
    session.commit()
    return plan


@router.post("/schedules", status_code=CREATED)
def create_schedule(body: ScheduleCreate, session: SessionDep, admin: AdminAgent) -> ScheduleRead:
    """Business hours: `hours` maps weekday (0 = Monday) to intervals of quoted local times."""
    schedule = reference.create_schedule(session=session, data=body)
    _audit(session, admin, AuditEntity.SCHEDULE, schedule.handle, None, schedule)
    session.commit()
    return schedule


@router.get("/schedules")
def list_schedules(session: SessionDep) -> ItemList[ScheduleRead]:
    return ItemList(items=reference.list_schedules(session=session))


@router.get("/schedules/{handle}")
def get_schedule(handle: str, session: SessionDep) -> ScheduleRead:
    return reference.get_schedule(session=session, handle=handle)


@router.patch("/schedules/{handle}")
def update_schedule(
    handle: str, body: ScheduleUpdate, session: SessionDep, admin: AdminAgent
) -> ScheduleRead:
    """Stated fields replace the stored ones (`hours` as a whole week)."""
    before = reference.get_schedule(session=session, handle=handle)
    schedule = reference.update_schedule(session=session, handle=handle, data=body)
    _audit(session, admin, AuditEntity.SCHEDULE, handle, before, schedule)
    session.commit()
    return schedule
