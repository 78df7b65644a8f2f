"""Who works the desk, for any agent: the names an assign or transfer field suggests.

Admins manage agents and teams under /api/v1/admin; this read gives every agent (viewers
included) and every key with tickets:read the handles and names, never an email or a role's
powers beyond whether the agent can be assigned."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.intake.auth import CurrentAgent
from services.intake.deps import SessionDep
from shared.domain.enums import Role
from shared.reference import service as reference

router = APIRouter(prefix="/api/v1/directory", tags=["directory"])


class DirectoryAgent(BaseModel):
    handle: str
    name: str
    assignable: bool = Field(description="Whether tickets may be assigned to the agent")
    teams: list[str]


class DirectoryTeam(BaseModel):
    handle: str
    name: str
    members: list[str]


class DirectoryDepartment(BaseModel):
    handle: str
    name: str


class Directory(BaseModel):
    agents: list[DirectoryAgent] = Field(description="Active agents, by handle")
    teams: list[DirectoryTeam]
    departments: list[DirectoryDepartment]


@router.get("")
def read_directory(session: SessionDep, _caller: CurrentAgent) -> Directory:
    """The active agents, the teams and the departments a ticket can go to."""
    return Directory(
        agents=[
            DirectoryAgent(
                handle=a.handle, name=a.name, assignable=a.role != Role.VIEWER, teams=a.teams
            )
            for a in reference.list_agents(session=session)
            if a.active
        ],
        teams=[
            DirectoryTeam(handle=t.handle, name=t.name, members=t.members)
            for t in reference.list_teams(session=session)
        ],
        departments=[
            DirectoryDepartment(handle=d.handle, name=d.name)
            for d in reference.list_departments(session=session)
        ],
    )
