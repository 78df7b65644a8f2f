"""Who may see which part of a report: admins everything, agents their teams' tickets,
viewers the team totals of the SLA report and nothing else. An integration's key with
tickets:read (checked by the routes) reads the organisation's reports whole, as admins do."""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.intake.auth import KeyPrincipal, Staff
from services.intake.errors import Forbidden
from services.intake.reports.schemas import GroupBy
from shared.db.tables import TeamMemberRow
from shared.domain.enums import Role


@dataclass(frozen=True)
class Scope:
    """`teams`: the tickets' teams the caller may see (None: all, with tickets of no team);
    `agents`: the agents whose rows the caller may see (None: all)."""

    teams: frozenset[str] | None = None
    agents: frozenset[str] | None = None

    def covers(self, team: InstrumentedAttribute[str | None]) -> ColumnElement[bool]:
        """The condition on a fact's or ticket's team column."""
        if self.teams is None:
            return true()
        return team.in_(sorted(self.teams))

    def shows_agent(self, handle: str) -> bool:
        return self.agents is None or handle in self.agents


def sla_scope(*, session: Session, agent: Staff, group_by: GroupBy) -> Scope:
    if isinstance(agent, KeyPrincipal) or agent.role is Role.ADMIN:
        return Scope()
    if agent.role is Role.VIEWER:
        if group_by is not GroupBy.TEAM:
            raise Forbidden("viewers may see the SLA report by team only")
        return Scope()
    return Scope(teams=_teams_of(session, agent.handle))


def agents_scope(*, session: Session, agent: Staff) -> Scope:
    if isinstance(agent, KeyPrincipal) or agent.role is Role.ADMIN:
        return Scope()
    if agent.role is Role.VIEWER:
        raise Forbidden("viewers may not see the agent report")
    teams = _teams_of(session, agent.handle)
    mates = session.scalars(
        select(TeamMemberRow.agent).where(TeamMemberRow.team.in_(sorted(teams)))
    ).all()
    return Scope(teams=teams, agents=frozenset(mates))


def satisfaction_scope(*, session: Session, agent: Staff) -> Scope:
    """Admins and keys: everything; agents: their teams' tickets; viewers: nothing (its
    comments are requesters' words)."""
    if isinstance(agent, KeyPrincipal) or agent.role is Role.ADMIN:
        return Scope()
    if agent.role is Role.VIEWER:
        raise Forbidden("viewers may not see the satisfaction report")
    return Scope(teams=_teams_of(session, agent.handle))


def _teams_of(session: Session, handle: str) -> frozenset[str]:
    teams = session.scalars(select(TeamMemberRow.team).where(TeamMemberRow.agent == handle)).all()
    return frozenset(teams)
