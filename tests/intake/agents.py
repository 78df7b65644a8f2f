"""Agents for the in-process API tests, bootstrapped through the service layer as the CLI
does (`ticketflow agents add`)."""

from shared.db.engine import make_engine, make_sessionmaker
from shared.reference import service as reference
from shared.reference.schemas import AgentCreate


def person(
    handle: str, role: str, name: str | None = None, domain: str = "example.com"
) -> AgentCreate:
    return AgentCreate(handle=handle, name=name or handle, email=f"{handle}@{domain}", role=role)


def create_agents(database_url: str, *agents: AgentCreate) -> list[str]:
    """Create `agents` in the database; their bearer tokens, in the same order."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            tokens = [reference.create_agent(session=session, data=data)[1] for data in agents]
            session.commit()
    finally:
        engine.dispose()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def agent_headers(
    database_url: str, handle: str, role: str, name: str | None = None
) -> dict[str, str]:
    """The Authorization header of one new agent."""
    [token] = create_agents(database_url, person(handle, role, name))
    return bearer(token)
