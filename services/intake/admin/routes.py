"""Admin endpoints: parse, authorise (admins only, for the whole router), call
`shared.reference.service`, commit. Errors are translated by `ReferenceRoute`."""

from fastapi import APIRouter, Depends, status

from services.intake.admin.errors import ReferenceRoute
from services.intake.admin.schemas import AgentCreated, AgentUpdated, ItemList
from services.intake.auth import get_admin
from services.intake.deps import SessionDep
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


@router.post("/agents", status_code=CREATED)
def create_agent(body: AgentCreate, session: SessionDep) -> AgentCreated:
    agent, token = reference.create_agent(session=session, data=body)
    session.commit()
    return AgentCreated(**agent.model_dump(), token=token)


@router.get("/agents")
def list_agents(session: SessionDep) -> ItemList[AgentRead]:
    return ItemList(items=reference.list_agents(session=session))


@router.get("/agents/{handle}")
def get_agent(handle: str, session: SessionDep) -> AgentRead:
    return reference.get_agent(session=session, handle=handle)


@router.patch("/agents/{handle}")
def update_agent(handle: str, body: AgentUpdate, session: SessionDep) -> AgentUpdated:
    """Partial update; `rotate_token: true` answers with a new token, `active: false` disables."""
    agent, token = reference.update_agent(session=session, handle=handle, data=body)
    session.commit()
    return AgentUpdated(**agent.model_dump(), token=token)


@router.post("/teams", status_code=CREATED)
def create_team(body: TeamCreate, session: SessionDep) -> TeamRead:
    team = reference.create_team(session=session, data=body)
    session.commit()
    return team


@router.get("/teams")
def list_teams(session: SessionDep) -> ItemList[TeamRead]:
    return ItemList(items=reference.list_teams(session=session))


@router.get("/teams/{handle}")
def get_team(handle: str, session: SessionDep) -> TeamRead:
    return reference.get_team(session=session, handle=handle)


@router.patch("/teams/{handle}")
def update_team(handle: str, body: TeamUpdate, session: SessionDep) -> TeamRead:
    team = reference.update_team(session=session, handle=handle, data=body)
    session.commit()
    return team


@router.post("/departments", status_code=CREATED)
def create_department(body: DepartmentCreate, session: SessionDep) -> DepartmentRead:
    department = reference.create_department(session=session, data=body)
    session.commit()
    return department


@router.get("/departments")
def list_departments(session: SessionDep) -> ItemList[DepartmentRead]:
    return ItemList(items=reference.list_departments(session=session))


@router.get("/departments/{handle}")
def get_department(handle: str, session: SessionDep) -> DepartmentRead:
    return reference.get_department(session=session, handle=handle)


@router.patch("/departments/{handle}")
def update_department(handle: str, body: DepartmentUpdate, session: SessionDep) -> DepartmentRead:
    department = reference.update_department(session=session, handle=handle, data=body)
    session.commit()
    return department


@router.post("/help-topics", status_code=CREATED)
def create_help_topic(body: HelpTopicCreate, session: SessionDep) -> HelpTopicRead:
    topic = reference.create_help_topic(session=session, data=body)
    session.commit()
    return topic


@router.get("/help-topics")
def list_help_topics(session: SessionDep) -> ItemList[HelpTopicRead]:
    return ItemList(items=reference.list_help_topics(session=session))


@router.get("/help-topics/{handle}")
def get_help_topic(handle: str, session: SessionDep) -> HelpTopicRead:
    return reference.get_help_topic(session=session, handle=handle)


@router.patch("/help-topics/{handle}")
def update_help_topic(handle: str, body: HelpTopicUpdate, session: SessionDep) -> HelpTopicRead:
    topic = reference.update_help_topic(session=session, handle=handle, data=body)
    session.commit()
    return topic


@router.post("/sla-plans", status_code=CREATED)
def create_sla_plan(body: SlaPlanCreate, session: SessionDep) -> SlaPlanRead:
    plan = reference.create_sla_plan(session=session, data=body)
    session.commit()
    return plan


@router.get("/sla-plans")
def list_sla_plans(session: SessionDep) -> ItemList[SlaPlanRead]:
    return ItemList(items=reference.list_sla_plans(session=session))


@router.get("/sla-plans/{handle}")
def get_sla_plan(handle: str, session: SessionDep) -> SlaPlanRead:
    return reference.get_sla_plan(session=session, handle=handle)


@router.patch("/sla-plans/{handle}")
def update_sla_plan(handle: str, body: SlaPlanUpdate, session: SessionDep) -> SlaPlanRead:
    plan = reference.update_sla_plan(session=session, handle=handle, data=body)
    session.commit()
    return plan


@router.post("/schedules", status_code=CREATED)
def create_schedule(body: ScheduleCreate, session: SessionDep) -> ScheduleRead:
    """Business hours: `hours` maps weekday (0 = Monday) to intervals of quoted local times."""
    schedule = reference.create_schedule(session=session, data=body)
    session.commit()
    return schedule


@router.get("/schedules")
def list_schedules(session: SessionDep) -> ItemList[ScheduleRead]:
    return ItemList(items=reference.list_schedules(session=session))


@router.get("/schedules/{handle}")
def get_schedule(handle: str, session: SessionDep) -> ScheduleRead:
    return reference.get_schedule(session=session, handle=handle)


@router.patch("/schedules/{handle}")
def update_schedule(handle: str, body: ScheduleUpdate, session: SessionDep) -> ScheduleRead:
    """Stated fields replace the stored ones (`hours` as a whole week)."""
    schedule = reference.update_schedule(session=session, handle=handle, data=body)
    session.commit()
    return schedule
